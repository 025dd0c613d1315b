-- depends: 0006.catalog-handles
-- Stock states, incoming stock, backorders and preorders (issue 16). Every new count starts at
-- 0, so every existing row keeps today's meaning: available = on_hand - reserved - unsellable
-- (safety_stock + damaged + quality_control), which is on_hand - reserved while those are 0;
-- a variant with no inventory policy is DENY, today's behaviour.

-- Per (SKU, location):
--   safety_stock, damaged, quality_control: units counted in on_hand and never sold;
--   incoming: units of OPEN receipts not yet received (their sum, kept as a count so the
--     ledger and the audit see it);
--   backordered, preordered: units of ACTIVE holds sold beyond stock here;
--   owed: committed units sold beyond stock and not yet delivered (covered, oldest commit
--     first, as on_hand grows).
ALTER TABLE stock
    ADD COLUMN safety_stock bigint NOT NULL DEFAULT 0 CHECK (safety_stock >= 0),
    ADD COLUMN damaged bigint NOT NULL DEFAULT 0 CHECK (damaged >= 0),
    ADD COLUMN quality_control bigint NOT NULL DEFAULT 0 CHECK (quality_control >= 0),
    ADD COLUMN incoming bigint NOT NULL DEFAULT 0 CHECK (incoming >= 0),
    ADD COLUMN backordered bigint NOT NULL DEFAULT 0 CHECK (backordered >= 0),
    ADD COLUMN preordered bigint NOT NULL DEFAULT 0 CHECK (preordered >= 0),
    ADD COLUMN owed bigint NOT NULL DEFAULT 0 CHECK (owed >= 0),
    ADD CONSTRAINT stock_held_and_unsellable_within_on_hand
        CHECK (reserved + safety_stock + damaged + quality_control <= on_hand);

-- The ledger gains a delta for each new count (constant defaults rewrite nothing, so the
-- append-only trigger is not woken) and the reasons that move them: MOVE (between available
-- and a state: one row per side), EXPECT / RECEIPT / CANCEL (a receipt made, received, cancelled),
-- COVER (owed units delivered from on_hand, one row per owed row touched).
ALTER TABLE stock_ledger
    ADD COLUMN delta_safety_stock bigint NOT NULL DEFAULT 0,
    ADD COLUMN delta_damaged bigint NOT NULL DEFAULT 0,
    ADD COLUMN delta_quality_control bigint NOT NULL DEFAULT 0,
    ADD COLUMN delta_incoming bigint NOT NULL DEFAULT 0,
    ADD COLUMN delta_backordered bigint NOT NULL DEFAULT 0,
    ADD COLUMN delta_preordered bigint NOT NULL DEFAULT 0,
    ADD COLUMN delta_owed bigint NOT NULL DEFAULT 0,
    ADD COLUMN receipt_id uuid;
ALTER TABLE stock_ledger DROP CONSTRAINT stock_ledger_reason_check;
ALTER TABLE stock_ledger ADD CONSTRAINT stock_ledger_reason_check
    CHECK (reason IN ('RECEIVE', 'ADJUST', 'TRANSFER', 'HOLD', 'RELEASE', 'EXPIRE', 'COMMIT',
                      'MOVE', 'EXPECT', 'RECEIPT', 'CANCEL', 'COVER'));
-- COVER names the hold whose owed units it delivers.
ALTER TABLE stock_ledger DROP CONSTRAINT stock_ledger_hold_reasons_have_hold;
ALTER TABLE stock_ledger ADD CONSTRAINT stock_ledger_hold_reasons_have_hold
    CHECK ((reason IN ('HOLD', 'RELEASE', 'EXPIRE', 'COMMIT', 'COVER')) = (hold_id IS NOT NULL));
ALTER TABLE stock_ledger ADD CONSTRAINT stock_ledger_receipt_reasons_have_receipt
    CHECK ((reason IN ('EXPECT', 'RECEIPT', 'CANCEL')) = (receipt_id IS NOT NULL));

-- An allocation's quantity is what it holds from stock (reserved there), now possibly 0 when
-- the whole of it is sold beyond stock.
ALTER TABLE hold_allocations DROP CONSTRAINT hold_allocations_quantity_check;
ALTER TABLE hold_allocations
    ADD COLUMN backordered bigint NOT NULL DEFAULT 0 CHECK (backordered >= 0),
    ADD COLUMN preordered bigint NOT NULL DEFAULT 0 CHECK (preordered >= 0),
    ADD CONSTRAINT hold_allocations_quantity_check CHECK (quantity >= 0),
    ADD CONSTRAINT hold_allocations_not_empty CHECK (quantity + backordered + preordered > 0);

-- Expected receipts (purchase orders, transfers from a supplier) at one (SKU, location).
CREATE TABLE receipts (
    id            uuid PRIMARY KEY,
    sku           text COLLATE "C" NOT NULL,
    location      text COLLATE "C" NOT NULL,
    expected      bigint NOT NULL CHECK (expected > 0),
    received      bigint NOT NULL DEFAULT 0 CHECK (received >= 0),
    expected_time timestamptz NOT NULL,
    state         text NOT NULL DEFAULT 'OPEN' CHECK (state IN ('OPEN', 'RECEIVED', 'CANCELLED')),
    note          text NOT NULL DEFAULT '',
    create_time   timestamptz NOT NULL DEFAULT now(),
    update_time   timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (sku, location) REFERENCES stock (sku, location)
);
CREATE INDEX receipts_open_idx ON receipts (sku, location, expected_time, id) WHERE state = 'OPEN';
CREATE INDEX receipts_sku_idx ON receipts (sku, id);

-- Selling beyond stock: a variant's default (location NULL) and per-location overrides.
CREATE TABLE inventory_policies (
    sku               text COLLATE "C" NOT NULL REFERENCES variants (sku),
    location          text COLLATE "C" REFERENCES locations (code),
    policy            text NOT NULL CHECK (policy IN ('DENY', 'BACKORDER', 'PREORDER')),
    backorder_limit   bigint NOT NULL DEFAULT 0 CHECK (backorder_limit >= 0),
    preorder_limit    bigint NOT NULL DEFAULT 0 CHECK (preorder_limit >= 0),
    preorder_end_time timestamptz,
    update_time       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX inventory_policies_key ON inventory_policies (sku, (COALESCE(location, '')));

-- Committed units sold beyond stock, per hold and (SKU, location), covered oldest commit first.
CREATE TABLE owed (
    hold_id     uuid NOT NULL REFERENCES holds (id),
    sku         text COLLATE "C" NOT NULL,
    location    text COLLATE "C" NOT NULL,
    quantity    bigint NOT NULL CHECK (quantity >= 0),
    commit_time timestamptz NOT NULL,
    PRIMARY KEY (hold_id, sku, location),
    FOREIGN KEY (sku, location) REFERENCES stock (sku, location)
);
CREATE INDEX owed_open_idx ON owed (sku, location, commit_time, hold_id) WHERE quantity > 0;

-- The expiry transition gives back what each allocation holds: reserved units from stock,
-- and the backordered and preordered ones (they only counted against the caps). It returns
-- those counts too, so the reserve path knows the caps' room after reclaiming.
DROP FUNCTION expire_holds(uuid[]);
CREATE FUNCTION expire_holds(hold_ids uuid[])
RETURNS TABLE (sku text, location text, on_hand bigint, reserved bigint, backordered bigint,
               preordered bigint)
LANGUAGE sql AS $$
    WITH expired AS (
        UPDATE holds h SET state = 'EXPIRED', end_time = h.expire_time
        WHERE h.id = ANY(hold_ids) AND h.state = 'ACTIVE'
        RETURNING h.id
    ), expired_allocations AS (
        SELECT a.hold_id, a.sku, a.location, a.quantity, a.backordered, a.preordered
        FROM hold_allocations a JOIN expired e ON e.id = a.hold_id
    ), ledger AS (
        INSERT INTO stock_ledger (sku, location, delta_on_hand, delta_reserved, delta_backordered,
                                  delta_preordered, reason, hold_id)
        SELECT x.sku, x.location, 0, -x.quantity, -x.backordered, -x.preordered, 'EXPIRE', x.hold_id
        FROM expired_allocations x
    ), freed AS (
        SELECT x.sku, x.location, sum(x.quantity)::bigint AS quantity,
               sum(x.backordered)::bigint AS backordered, sum(x.preordered)::bigint AS preordered
        FROM expired_allocations x GROUP BY x.sku, x.location
    )
    UPDATE stock s SET reserved = s.reserved - f.quantity, backordered = s.backordered - f.backordered,
                       preordered = s.preordered - f.preordered, update_time = now()
    FROM freed f
    WHERE s.sku = f.sku AND s.location = f.location
    RETURNING s.sku::text, s.location::text, s.on_hand, s.reserved, s.backordered, s.preordered;
$$;

-- WatchStockLevels streams learn of every count a level reports, not only on_hand and reserved
-- (a MoveStock changes neither, yet changes available).
DROP TRIGGER stock_levels_notify ON stock;
CREATE TRIGGER stock_levels_notify
    AFTER UPDATE OF on_hand, reserved, safety_stock, damaged, quality_control, incoming, backordered,
                    preordered, owed ON stock
    FOR EACH ROW
    WHEN ((OLD.on_hand, OLD.reserved, OLD.safety_stock, OLD.damaged, OLD.quality_control, OLD.incoming,
           OLD.backordered, OLD.preordered, OLD.owed)
          IS DISTINCT FROM (NEW.on_hand, NEW.reserved, NEW.safety_stock, NEW.damaged, NEW.quality_control,
                            NEW.incoming, NEW.backordered, NEW.preordered, NEW.owed))
    EXECUTE FUNCTION stock_levels_notify();

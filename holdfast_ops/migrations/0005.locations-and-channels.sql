-- depends: 0004.stock-notify
-- Stock per (SKU, location), sold through channels: the single pool every SKU had so far
-- becomes its stock at location `default`, which channel `default` sells from, so a client
-- that names neither sees what it saw before. Every row keeps its numbers: each hold line
-- gets one allocation at `default` for its whole quantity, each ledger row the location
-- `default`.

CREATE TABLE locations (
    id          uuid PRIMARY KEY,
    -- The SKU character set; codes never change, so stock, allocations and the ledger name
    -- a location by its code and the lock order (SKU, location code) is stable.
    code        text COLLATE "C" NOT NULL UNIQUE,
    name        text NOT NULL,
    active      boolean NOT NULL DEFAULT true,
    create_time timestamptz NOT NULL DEFAULT now()
);
INSERT INTO locations (id, code, name) VALUES (gen_random_uuid(), 'default', 'Default location');

CREATE TABLE channels (
    id          uuid PRIMARY KEY,
    code        text COLLATE "C" NOT NULL UNIQUE,
    name        text NOT NULL,
    strategy    text NOT NULL
                CHECK (strategy IN ('PRIORITY', 'MOST_AVAILABLE', 'FEWEST_LOCATIONS', 'SINGLE_LOCATION')),
    create_time timestamptz NOT NULL DEFAULT now()
);
-- A channel's locations in priority order (position 0 first).
CREATE TABLE channel_locations (
    channel_id uuid NOT NULL REFERENCES channels (id),
    position   integer NOT NULL CHECK (position >= 0),
    location   text COLLATE "C" NOT NULL REFERENCES locations (code),
    PRIMARY KEY (channel_id, position),
    UNIQUE (channel_id, location)
);
INSERT INTO channels (id, code, name, strategy)
VALUES (gen_random_uuid(), 'default', 'Default channel', 'PRIORITY');
INSERT INTO channel_locations (channel_id, position, location)
SELECT id, 0, 'default' FROM channels WHERE code = 'default';

-- stock: one row per (SKU, location). The foreign keys that pointed at stock (sku) point at
-- the catalog instead, or at the new key.
ALTER TABLE hold_lines DROP CONSTRAINT hold_lines_sku_fkey;
ALTER TABLE stock_ledger DROP CONSTRAINT stock_ledger_sku_fkey;
ALTER TABLE stock ADD COLUMN location text COLLATE "C" NOT NULL DEFAULT 'default'
    REFERENCES locations (code);
ALTER TABLE stock ALTER COLUMN location DROP DEFAULT;
ALTER TABLE stock DROP CONSTRAINT stock_pkey;
ALTER TABLE stock ADD PRIMARY KEY (sku, location);
ALTER TABLE hold_lines ADD CONSTRAINT hold_lines_sku_fkey FOREIGN KEY (sku) REFERENCES variants (sku);

-- The line's pin (click-and-collect, ship-from-store); NULL for a line allocated by strategy.
ALTER TABLE hold_lines ADD COLUMN location text COLLATE "C" REFERENCES locations (code);

-- Where each line's units are held: they sum to the line's quantity.
CREATE TABLE hold_allocations (
    hold_id  uuid NOT NULL,
    sku      text COLLATE "C" NOT NULL,
    location text COLLATE "C" NOT NULL,
    quantity bigint NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (hold_id, sku, location),
    FOREIGN KEY (hold_id, sku) REFERENCES hold_lines (hold_id, sku),
    FOREIGN KEY (sku, location) REFERENCES stock (sku, location)
);
CREATE INDEX hold_allocations_stock_idx ON hold_allocations (sku, location, hold_id);
INSERT INTO hold_allocations (hold_id, sku, location, quantity)
SELECT hold_id, sku, 'default', quantity FROM hold_lines;

-- Which channel and strategy allocated a hold (what the existing ones had: `default`).
ALTER TABLE holds ADD COLUMN channel text COLLATE "C" NOT NULL DEFAULT 'default'
    REFERENCES channels (code);
ALTER TABLE holds ADD COLUMN strategy text NOT NULL DEFAULT 'PRIORITY';
ALTER TABLE holds ALTER COLUMN channel DROP DEFAULT;
ALTER TABLE holds ALTER COLUMN strategy DROP DEFAULT;

-- The ledger names the location of every row (a new column with a constant default
-- rewrites nothing, so the append-only trigger is not woken). TRANSFER rows come in pairs:
-- on_hand out of one location, into another.
ALTER TABLE stock_ledger ADD COLUMN location text COLLATE "C" NOT NULL DEFAULT 'default';
ALTER TABLE stock_ledger ALTER COLUMN location DROP DEFAULT;
ALTER TABLE stock_ledger ADD CONSTRAINT stock_ledger_stock_fkey
    FOREIGN KEY (sku, location) REFERENCES stock (sku, location);
ALTER TABLE stock_ledger DROP CONSTRAINT stock_ledger_reason_check;
ALTER TABLE stock_ledger ADD CONSTRAINT stock_ledger_reason_check
    CHECK (reason IN ('RECEIVE', 'ADJUST', 'TRANSFER', 'HOLD', 'RELEASE', 'EXPIRE', 'COMMIT'));
ALTER TABLE stock_ledger DROP CONSTRAINT stock_ledger_hold_reasons_have_hold;
ALTER TABLE stock_ledger ADD CONSTRAINT stock_ledger_hold_reasons_have_hold
    CHECK ((reason IN ('RECEIVE', 'ADJUST', 'TRANSFER')) = (hold_id IS NULL));
CREATE INDEX stock_ledger_stock_idx ON stock_ledger (sku, location, id);

-- The expiry transition, written once: the reserve path (reclaim_overdue_holds, on the rows
-- it has locked) and the sweeper (expire_overdue_batch) both call it on holds they have
-- locked. Each allocation of an ACTIVE hold gives back its reserved units at its location,
-- with one EXPIRE ledger row; the hold ends at its expire_time, however late it is expired.
-- Returns the stock rows it changed.
CREATE FUNCTION expire_holds(hold_ids uuid[])
RETURNS TABLE (sku text, location text, on_hand bigint, reserved bigint)
LANGUAGE sql AS $$
    WITH expired AS (
        UPDATE holds h SET state = 'EXPIRED', end_time = h.expire_time
        WHERE h.id = ANY(hold_ids) AND h.state = 'ACTIVE'
        RETURNING h.id
    ), expired_allocations AS (
        SELECT a.hold_id, a.sku, a.location, a.quantity
        FROM hold_allocations a JOIN expired e ON e.id = a.hold_id
    ), ledger AS (
        INSERT INTO stock_ledger (sku, location, delta_on_hand, delta_reserved, reason, hold_id)
        SELECT x.sku, x.location, 0, -x.quantity, 'EXPIRE', x.hold_id FROM expired_allocations x
    ), freed AS (
        SELECT x.sku, x.location, sum(x.quantity)::bigint AS quantity
        FROM expired_allocations x GROUP BY x.sku, x.location
    )
    UPDATE stock s SET reserved = s.reserved - f.quantity, update_time = now()
    FROM freed f
    WHERE s.sku = f.sku AND s.location = f.location
    RETURNING s.sku::text, s.location::text, s.on_hand, s.reserved;
$$;

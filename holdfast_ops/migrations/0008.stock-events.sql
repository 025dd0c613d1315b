-- depends: 0007.stock-states-incoming-backorders
-- Stock events (issue 17): every ledger row becomes one event, written by a trigger in the
-- ledger row's own transaction, so no path that changes stock can forget one.
--
-- Cursors must increase in commit order: values assigned at insert (identity, xid) do not,
-- since a transaction that inserts first may commit last. So an event is written without a
-- position; the sequencer (inventory_svc/event_sequencer.py, one at a time under an advisory
-- lock) gives positions to the events its snapshot sees, i.e. committed ones, in `serial`
-- order. An event that commits late is seen by a later pass and positioned after everything
-- already positioned: a consumer reading by position never skips one.

-- Per (SKU, location): how many events it has had, the last one's sequence number. Kept on
-- the stock row, which every change already locks, so sequences are dense per key and
-- survive the pruning of old events.
-- threshold_events counts the LOW_STOCK / BACK_IN_STOCK events among them (the audit).
ALTER TABLE stock
    ADD COLUMN event_seq bigint NOT NULL DEFAULT 0,
    ADD COLUMN threshold_events bigint NOT NULL DEFAULT 0;

-- Low-stock thresholds (SetStockThreshold): a variant's default (location '') and per-location
-- overrides. When a change takes available to or below low_stock_at, a LOW_STOCK event follows
-- its events; when one takes it back above, BACK_IN_STOCK: one event per crossing.
CREATE TABLE stock_thresholds (
    sku          text COLLATE "C" NOT NULL REFERENCES variants (sku),
    location     text COLLATE "C" NOT NULL DEFAULT '',
    low_stock_at bigint NOT NULL CHECK (low_stock_at >= 0),
    update_time  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sku, location)
);

CREATE TABLE stock_events (
    -- Insert order: within one (SKU, location) it is commit order too, since each writer
    -- holds the stock row's lock from before its insert until its commit.
    serial      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- For consumers' de-duplication.
    id          uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    -- The cursor: NULL until the sequencer positions the event, then unique and dense.
    position    bigint UNIQUE,
    -- The ledger row; NULL on a threshold crossing (LOW_STOCK, BACK_IN_STOCK).
    ledger_id   bigint UNIQUE,
    sku         text COLLATE "C" NOT NULL,
    location    text COLLATE "C" NOT NULL,
    seq         bigint NOT NULL,
    type        text NOT NULL,
    hold_id     uuid,
    receipt_id  uuid,
    request_id  text,
    -- The (SKU, location)'s levels after the statement that made the change.
    on_hand         bigint NOT NULL,
    reserved        bigint NOT NULL,
    safety_stock    bigint NOT NULL,
    damaged         bigint NOT NULL,
    quality_control bigint NOT NULL,
    incoming        bigint NOT NULL,
    backordered     bigint NOT NULL,
    preordered      bigint NOT NULL,
    owed            bigint NOT NULL,
    -- A crossing's threshold.
    low_stock_at bigint,
    create_time timestamptz NOT NULL DEFAULT now(),
    UNIQUE (sku, location, seq),
    CONSTRAINT stock_events_crossings_have_no_ledger_row
        CHECK ((ledger_id IS NULL) = (type IN ('LOW_STOCK', 'BACK_IN_STOCK')))
);
-- What the sequencer walks: small, since events are positioned within moments.
CREATE INDEX stock_events_unpositioned_idx ON stock_events (serial) WHERE position IS NULL;

-- The sequencer's counter (the last position given) and the pruner's mark (every position at
-- or below it may be gone): a cursor below pruned_through is out of range. Ledger rows up to
-- feed_start_ledger_id were written before this migration and have no event (the audit).
CREATE TABLE stock_event_cursor (
    only_row             boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    last_position        bigint NOT NULL DEFAULT 0,
    pruned_through       bigint NOT NULL DEFAULT 0 CHECK (pruned_through <= last_position),
    feed_start_ledger_id bigint NOT NULL
);
INSERT INTO stock_event_cursor (feed_start_ledger_id)
SELECT COALESCE(max(id), 0) FROM stock_ledger;

-- A statement-level trigger: one stock update per (SKU, location) per statement, however
-- many ledger rows (a batch of CreateHolds) it inserts. AFTER triggers run once the whole
-- statement, data-modifying CTEs included, is done, so the stock row read here is the
-- statement's result. The stock rows are already locked by the writer (ledger rows follow
-- their stock update), so this takes no new lock and cannot change the lock order.
CREATE FUNCTION stock_ledger_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH keyed AS (
        SELECT l.*, row_number() OVER (PARTITION BY l.sku, l.location ORDER BY l.id) AS n
        FROM new_ledger_rows l
    ), per_key AS (
        -- What the statement did to each key's available (the deltas the ledger rows carry).
        SELECT l.sku, l.location, count(*) AS k,
               sum(l.delta_on_hand - l.delta_reserved - l.delta_safety_stock - l.delta_damaged
                   - l.delta_quality_control) AS moved
        FROM new_ledger_rows l
        GROUP BY l.sku, l.location
    ), judged AS (
        SELECT p.sku, p.location, p.k, COALESCE(t.low_stock_at, d.low_stock_at) AS low_at,
               s.on_hand - s.reserved - s.safety_stock - s.damaged - s.quality_control AS available,
               p.moved
        FROM per_key p
        JOIN stock s ON s.sku = p.sku AND s.location = p.location
        LEFT JOIN stock_thresholds t ON t.sku = p.sku AND t.location = p.location
        LEFT JOIN stock_thresholds d ON d.sku = p.sku AND d.location = ''
    ), crossings AS (
        SELECT j.sku, j.location, j.k, j.low_at,
               CASE WHEN j.low_at IS NULL THEN NULL
                    WHEN j.available - j.moved > j.low_at AND j.available <= j.low_at THEN 'LOW_STOCK'
                    WHEN j.available - j.moved <= j.low_at AND j.available > j.low_at THEN 'BACK_IN_STOCK'
               END AS crossed
        FROM judged j
    ), bumped AS (
        UPDATE stock s
        SET event_seq = s.event_seq + c.k + (c.crossed IS NOT NULL)::int,
            threshold_events = s.threshold_events + (c.crossed IS NOT NULL)::int
        FROM crossings c
        WHERE s.sku = c.sku AND s.location = c.location
        RETURNING s.sku, s.location, c.k, c.crossed, c.low_at,
                  s.event_seq - c.k - (c.crossed IS NOT NULL)::int AS seq_before, s.on_hand, s.reserved,
                  s.safety_stock, s.damaged, s.quality_control, s.incoming, s.backordered,
                  s.preordered, s.owed
    )
    INSERT INTO stock_events (ledger_id, sku, location, seq, type, hold_id, receipt_id, request_id,
                              on_hand, reserved, safety_stock, damaged, quality_control, incoming,
                              backordered, preordered, owed, low_stock_at)
    SELECT * FROM (
        SELECT k.id, k.sku, k.location, b.seq_before + k.n AS seq, k.reason, k.hold_id, k.receipt_id,
               k.request_id, b.on_hand, b.reserved, b.safety_stock, b.damaged, b.quality_control,
               b.incoming, b.backordered, b.preordered, b.owed, NULL::bigint
        FROM keyed k
        JOIN bumped b ON b.sku = k.sku AND b.location = k.location
        UNION ALL
        -- The crossing follows the changes that made it.
        SELECT NULL, b.sku, b.location, b.seq_before + b.k + 1, b.crossed, NULL, NULL, NULL,
               b.on_hand, b.reserved, b.safety_stock, b.damaged, b.quality_control, b.incoming,
               b.backordered, b.preordered, b.owed, b.low_at
        FROM bumped b
        WHERE b.crossed IS NOT NULL
    ) e
    -- Serial order: per key, sequence order (which is also the key's commit order).
    ORDER BY 2, 3, 4;
    -- Wakes the sequencers at commit; folded to one per transaction.
    PERFORM pg_notify('stock_events_pending', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER stock_ledger_events
    AFTER INSERT ON stock_ledger
    REFERENCING NEW TABLE AS new_ledger_rows
    FOR EACH STATEMENT
    EXECUTE FUNCTION stock_ledger_events();

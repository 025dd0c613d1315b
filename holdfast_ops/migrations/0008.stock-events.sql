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
ALTER TABLE stock ADD COLUMN event_seq bigint NOT NULL DEFAULT 0;

CREATE TABLE stock_events (
    -- Insert order: within one (SKU, location) it is commit order too, since each writer
    -- holds the stock row's lock from before its insert until its commit.
    serial      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- For consumers' de-duplication.
    id          uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    -- The cursor: NULL until the sequencer positions the event, then unique and dense.
    position    bigint UNIQUE,
    ledger_id   bigint NOT NULL UNIQUE,
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
    create_time timestamptz NOT NULL DEFAULT now(),
    UNIQUE (sku, location, seq)
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
        SELECT l.*,
               row_number() OVER (PARTITION BY l.sku, l.location ORDER BY l.id) AS n,
               count(*) OVER (PARTITION BY l.sku, l.location) AS k
        FROM new_ledger_rows l
    ), bumped AS (
        UPDATE stock s SET event_seq = s.event_seq + c.k
        FROM (SELECT DISTINCT sku, location, k FROM keyed) c
        WHERE s.sku = c.sku AND s.location = c.location
        RETURNING s.sku, s.location, s.event_seq - c.k AS seq_before, s.on_hand, s.reserved,
                  s.safety_stock, s.damaged, s.quality_control, s.incoming, s.backordered,
                  s.preordered, s.owed
    )
    INSERT INTO stock_events (ledger_id, sku, location, seq, type, hold_id, receipt_id, request_id,
                              on_hand, reserved, safety_stock, damaged, quality_control, incoming,
                              backordered, preordered, owed)
    SELECT k.id, k.sku, k.location, b.seq_before + k.n, k.reason, k.hold_id, k.receipt_id,
           k.request_id, b.on_hand, b.reserved, b.safety_stock, b.damaged, b.quality_control,
           b.incoming, b.backordered, b.preordered, b.owed
    FROM keyed k
    JOIN bumped b ON b.sku = k.sku AND b.location = k.location
    ORDER BY k.id;
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

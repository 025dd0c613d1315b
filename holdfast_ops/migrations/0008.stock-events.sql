-- depends: 0007.stock-states-incoming-backorders
-- Stock events (issue 17): every ledger row becomes one event, written by a trigger in the
-- ledger row's own transaction, so no path that changes stock can forget one.
--
-- Cursors must increase in commit order: values assigned at insert (identity, xid) do not,
-- since a transaction that inserts first may commit last. So an event is written without a
-- position; the sequencer (inventory_svc/event_feed.py, one pass at a time under an advisory
-- lock) gives positions to the events its snapshot sees, i.e. committed ones, in `serial`
-- order. An event that commits late is seen by a later pass and positioned after everything
-- already positioned: a consumer reading by position never skips one.
--
-- The writer's share is one narrow insert per ledger row and nothing else: no counter row to
-- update (it would be a second version of the hottest row in every reserve), no NOTIFY (whose
-- commit-time queue lock serializes every committing writer). Per-key sequence numbers and
-- threshold crossings are the sequencer's work, off the reserve path.

-- Low-stock thresholds (SetStockThreshold): a variant's default (location and channel ''), a
-- location's override (location set) or a channel's (channel set: judged on the channel's
-- total available). When available falls to or below low_stock_at the feed has a LOW_STOCK
-- event; when it rises above it again, BACK_IN_STOCK: one event per crossing.
CREATE TABLE stock_thresholds (
    sku          text COLLATE "C" NOT NULL REFERENCES variants (sku),
    location     text COLLATE "C" NOT NULL DEFAULT '',
    channel      text COLLATE "C" NOT NULL DEFAULT '',
    low_stock_at bigint NOT NULL CHECK (low_stock_at >= 0),
    update_time  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sku, location, channel),
    CONSTRAINT stock_thresholds_location_or_channel CHECK (location = '' OR channel = '')
);

CREATE TABLE stock_events (
    -- Insert order: within one (SKU, location) it is commit order too, since each writer
    -- holds the stock row's lock from before its insert until its commit.
    serial      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The cursor and the key's sequence number: NULL until the sequencer positions the
    -- event, then the position is unique and dense, the sequence dense per key.
    position    bigint,
    seq         bigint,
    -- For consumers' de-duplication: the serial in a UUID's shape, unique by construction
    -- (a random UUID cost every writer 4 us an event).
    id          uuid GENERATED ALWAYS AS (lpad(to_hex(serial), 32, '0')::uuid) STORED,
    -- The ledger row; NULL on a threshold crossing (LOW_STOCK, BACK_IN_STOCK).
    ledger_id   bigint,
    sku         text COLLATE "C" NOT NULL,
    -- A location's event, or '' on a channel's crossing (channel set).
    location    text COLLATE "C" NOT NULL,
    channel     text COLLATE "C" NOT NULL DEFAULT '',
    type        text NOT NULL,
    hold_id     uuid,
    receipt_id  uuid,
    request_id  text,
    -- The (SKU, location)'s levels after the statement that made the change (a channel
    -- crossing: the channel's totals).
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
    CONSTRAINT stock_events_crossings_have_no_ledger_row
        CHECK ((ledger_id IS NULL) = (type IN ('LOW_STOCK', 'BACK_IN_STOCK'))),
    CONSTRAINT stock_events_positioned_whole CHECK ((position IS NULL) = (seq IS NULL))
);
-- The readers' order; partial, so the writer's insert (position NULL) does not touch it. The
-- sequencer finds what waits by serial from its scan mark (stock_event_cursor), not by an
-- index of the unpositioned rows, which cost every writer 5 us an event.
CREATE UNIQUE INDEX stock_events_position_idx ON stock_events (position) WHERE position IS NOT NULL;

-- The sequencer's memory per key, as of the last positioned event: a (SKU, location)'s last
-- sequence number and levels, or a (SKU, channel)'s (location '') for its crossings; whether
-- it is low, for one event per crossing, and how many crossings it had (the audit: last_seq
-- counts its ledger rows and those). Seeded with every key's levels when the feed begins.
CREATE TABLE stock_event_keys (
    sku             text COLLATE "C" NOT NULL,
    location        text COLLATE "C" NOT NULL,
    channel         text COLLATE "C" NOT NULL DEFAULT '',
    last_seq        bigint NOT NULL DEFAULT 0,
    on_hand         bigint NOT NULL DEFAULT 0,
    reserved        bigint NOT NULL DEFAULT 0,
    safety_stock    bigint NOT NULL DEFAULT 0,
    damaged         bigint NOT NULL DEFAULT 0,
    quality_control bigint NOT NULL DEFAULT 0,
    incoming        bigint NOT NULL DEFAULT 0,
    backordered     bigint NOT NULL DEFAULT 0,
    preordered      bigint NOT NULL DEFAULT 0,
    owed            bigint NOT NULL DEFAULT 0,
    low             boolean NOT NULL DEFAULT false,
    crossings       bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (sku, location, channel)
);
INSERT INTO stock_event_keys (sku, location, on_hand, reserved, safety_stock, damaged, quality_control,
                              incoming, backordered, preordered, owed)
SELECT sku, location, on_hand, reserved, safety_stock, damaged, quality_control, incoming, backordered,
       preordered, owed
FROM stock;

-- The sequencer's counter (the last position given) and the pruner's mark (every position at
-- or below it may be gone): a cursor below pruned_through is out of range. Ledger rows up to
-- feed_start_ledger_id were written before this migration and have no event (the audit).
--
-- The scan mark: every event with a serial below scan_from is positioned, or was rolled back.
-- A pass reads the unpositioned events from scan_from on. The mark moves once it is safe: a
-- pass reads the last serial drawn (settle_serial), then takes an xid of its own (settle_xid).
-- An event's transaction has its xid before it draws a serial (the event follows its ledger
-- row), and xids are handed out in order, so every transaction that could still insert an
-- event at or below settle_serial has a smaller xid. A later pass whose snapshot's xmin has
-- reached settle_xid has seen all of them end; once it has positioned every event it sees,
-- scan_from moves past settle_serial. A transaction held open holds the mark back (and the
-- scan grows) until it ends: what it wrote is positioned when it commits, after everything
-- already positioned.
CREATE TABLE stock_event_cursor (
    only_row             boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    last_position        bigint NOT NULL DEFAULT 0,
    pruned_through       bigint NOT NULL DEFAULT 0 CHECK (pruned_through <= last_position),
    feed_start_ledger_id bigint NOT NULL,
    scan_from            bigint NOT NULL DEFAULT 1,
    settle_serial        bigint NOT NULL DEFAULT 0,
    settle_xid           bigint NOT NULL DEFAULT 0
);
INSERT INTO stock_event_cursor (feed_start_ledger_id)
SELECT COALESCE(max(id), 0) FROM stock_ledger;

-- A statement-level trigger: one insert per statement, however many ledger rows (a batch of
-- CreateHolds) it wrote. AFTER triggers run once the whole statement, data-modifying CTEs
-- included, is done, so the stock row read here is the statement's result. The stock rows
-- are already locked by the writer (ledger rows follow their stock update), so this takes no
-- new lock and cannot change the lock order.
CREATE FUNCTION stock_ledger_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stock_events (ledger_id, sku, location, type, hold_id, receipt_id, request_id,
                              on_hand, reserved, safety_stock, damaged, quality_control, incoming,
                              backordered, preordered, owed)
    SELECT l.id, l.sku, l.location, l.reason, l.hold_id, l.receipt_id, l.request_id,
           s.on_hand, s.reserved, s.safety_stock, s.damaged, s.quality_control, s.incoming,
           s.backordered, s.preordered, s.owed
    FROM new_ledger_rows l
    -- One key lookup per row: as a plain join the planner hashed the whole stock table for
    -- each statement of 1,000 rows (its seq scan grew with the catalog).
    CROSS JOIN LATERAL (
        SELECT * FROM stock s WHERE s.sku = l.sku AND s.location = l.location LIMIT 1
    ) s
    -- Serial order: per key, ledger order (which is also the key's commit order).
    ORDER BY l.id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER stock_ledger_events
    AFTER INSERT ON stock_ledger
    REFERENCING NEW TABLE AS new_ledger_rows
    FOR EACH STATEMENT
    EXECUTE FUNCTION stock_ledger_events();

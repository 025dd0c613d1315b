-- Stock events (migration 0008): positioned by the sequencer, read by StreamStockEvents.

-- name: listen_stock_events
-- stock_events_pending: new events await a position (the ledger trigger);
-- stock_events: positions were given (the sequencer), streams re-read.
LISTEN stock_events_pending;
LISTEN stock_events;

-- name: try_lock_sequencer
-- One sequencer at a time across every replica; the others skip their pass rather than wait.
SELECT pg_try_advisory_xact_lock(%(lock_key)s) AS locked;

-- name: position_stock_events
-- Run after try_lock_sequencer in its transaction, so its snapshot is taken after the previous
-- sequencer committed: it sees exactly the committed events without a position, and gives them
-- the next positions in serial order (per (SKU, location), that is their commit order).
-- Announces the new last position at commit.
WITH todo AS (
    SELECT serial, row_number() OVER (ORDER BY serial) AS n
    FROM (
        SELECT serial FROM stock_events
        WHERE position IS NULL
        ORDER BY serial
        LIMIT %(batch_size)s
    ) t
), counter AS (
    SELECT last_position FROM stock_event_cursor
), positioned AS (
    UPDATE stock_events e SET position = c.last_position + t.n
    FROM todo t, counter c
    WHERE e.serial = t.serial
    RETURNING e.position
), moved AS (
    UPDATE stock_event_cursor
    SET last_position = last_position + (SELECT count(*) FROM positioned)
    RETURNING last_position
)
SELECT m.last_position, (SELECT count(*) FROM positioned) AS positioned,
       CASE WHEN (SELECT count(*) FROM positioned) > 0
            THEN pg_notify('stock_events', m.last_position::text) END AS notified
FROM moved m;

-- name: read_stock_events
-- One statement, one snapshot: the pruning mark and the events are read together, so a
-- cursor found in range cannot lose its next events to a prune between two reads.
-- last_position bounds what this snapshot could see: a page shorter than the limit has
-- seen every matching event up to it.
SELECT c.pruned_through, c.last_position, e.*
FROM stock_event_cursor c
LEFT JOIN LATERAL (
    SELECT e.position, e.id::text AS id, e.sku::text AS sku, e.location::text AS location, e.seq,
           e.type, e.hold_id::text AS hold_id, e.receipt_id::text AS receipt_id, e.request_id,
           e.on_hand, e.reserved, e.safety_stock, e.damaged, e.quality_control, e.incoming,
           e.backordered, e.preordered, e.owed, e.low_stock_at, e.create_time
    FROM stock_events e
    WHERE e.position > %(after)s
      AND (cardinality(%(skus)s::text[]) = 0 OR e.sku = ANY(%(skus)s::text[]))
      AND (cardinality(%(locations)s::text[]) = 0 OR e.location = ANY(%(locations)s::text[]))
      AND (cardinality(%(types)s::text[]) = 0 OR e.type = ANY(%(types)s::text[]))
    ORDER BY e.position
    LIMIT %(limit)s
) e ON true
ORDER BY e.position;

-- Stock events (migration 0008): positioned by the sequencer, read by StreamStockEvents.

-- name: listen_stock_events
-- The sequencer announces each pass's last position; streams re-read on it.
LISTEN stock_events;

-- name: try_lock_sequencer
-- One sequencer at a time across every replica; the others skip their pass rather than wait.
-- With the last serial drawn, read before the pass's snapshot is taken (the next statement):
-- the scan mark's settle_serial (migration 0008).
SELECT pg_try_advisory_xact_lock(%(lock_key)s) AS locked,
       COALESCE(pg_sequence_last_value('stock_events_serial_seq'), 0) AS allocated;

-- name: sequence_plain_stock_events
-- The common pass in one statement, run after try_lock_sequencer: when no threshold judges a
-- SKU of the batch, positioning is numbering, and the events never leave the server. The
-- batch is the committed events without a position from the scan mark on, in serial order
-- (per (SKU, location), their commit order; the statement's snapshot is taken after the
-- previous pass committed). Each gets the next position and its key's next number; the keys'
-- memory takes each one's last number and levels; the counter moves and is announced.
-- `plain` false: nothing was written, the batch is the caller's to judge
-- (pending_stock_events). Either way the answer has what moving the scan mark takes: the
-- mark, this snapshot's bounds, how many events the batch found and its last serial.
WITH mark AS (
    SELECT c.*, pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS read_xmin
    FROM stock_event_cursor c
), batch AS (
    SELECT serial, sku, location, on_hand, reserved, safety_stock, damaged, quality_control,
           incoming, backordered, preordered, owed
    FROM stock_events
    WHERE serial >= (SELECT scan_from FROM mark) AND position IS NULL
    ORDER BY serial
    LIMIT %(batch_size)s
), judged AS (
    SELECT NOT EXISTS (SELECT 1 FROM batch b JOIN stock_thresholds t ON t.sku = b.sku) AS plain
), numbered AS (
    SELECT b.*, m.last_position + row_number() OVER (ORDER BY b.serial) AS position,
           COALESCE(k.last_seq, 0) + row_number() OVER (PARTITION BY b.sku, b.location ORDER BY b.serial) AS seq
    FROM batch b
    CROSS JOIN mark m
    -- One key lookup per event: as a plain join the planner scanned every key of the shop
    -- for each pass, however few events it had.
    LEFT JOIN LATERAL (
        SELECT k.last_seq FROM stock_event_keys k
        WHERE k.sku = b.sku AND k.location = b.location AND k.channel = ''
        LIMIT 1
    ) k ON true
    WHERE (SELECT plain FROM judged)
), positioned AS (
    UPDATE stock_events e
    SET position = n.position, seq = n.seq
    FROM numbered n
    -- The serial range lets the plan read just the batch, not the whole table.
    WHERE e.serial = n.serial AND e.position IS NULL
      AND e.serial BETWEEN (SELECT min(serial) FROM batch) AND (SELECT max(serial) FROM batch)
), remembered AS (
    INSERT INTO stock_event_keys AS k (sku, location, last_seq, on_hand, reserved, safety_stock, damaged,
                                       quality_control, incoming, backordered, preordered, owed)
    SELECT DISTINCT ON (sku, location) sku, location, seq, on_hand, reserved, safety_stock, damaged,
           quality_control, incoming, backordered, preordered, owed
    FROM numbered
    ORDER BY sku, location, serial DESC
    ON CONFLICT (sku, location, channel) DO UPDATE
    SET last_seq = EXCLUDED.last_seq, on_hand = EXCLUDED.on_hand, reserved = EXCLUDED.reserved,
        safety_stock = EXCLUDED.safety_stock, damaged = EXCLUDED.damaged,
        quality_control = EXCLUDED.quality_control, incoming = EXCLUDED.incoming,
        backordered = EXCLUDED.backordered, preordered = EXCLUDED.preordered, owed = EXCLUDED.owed
), moved AS (
    UPDATE stock_event_cursor c
    SET last_position = c.last_position + (SELECT count(*) FROM numbered)
    WHERE EXISTS (SELECT 1 FROM numbered)
    RETURNING pg_notify('stock_events', c.last_position::text) AS notified
)
SELECT j.plain, (SELECT count(*) FROM batch) AS found, (SELECT max(serial) FROM batch) AS last_serial,
       m.scan_from, m.settle_serial, m.settle_xid, m.read_xmin,
       (SELECT count(*) FROM moved) AS notified
FROM judged j, mark m;

-- name: pending_stock_events
-- The batch sequence_plain_stock_events leaves to its caller, with the counter it is
-- positioned after.
SELECT (SELECT last_position FROM stock_event_cursor) AS last_position, serial, sku::text AS sku,
       location::text AS location, on_hand, reserved, safety_stock, damaged, quality_control,
       incoming, backordered, preordered, owed
FROM stock_events
WHERE serial >= (SELECT scan_from FROM stock_event_cursor) AND position IS NULL
ORDER BY serial
LIMIT %(batch_size)s;

-- name: stock_event_memory
-- What the sequencer remembers of the SKUs in a batch: every key's last sequence number,
-- levels and low mark, with the thresholds that judge them (a location's override, else the
-- variant's default; a channel's own), and the active locations of the channels that have a
-- threshold on one of the SKUs (their totals are judged).
SELECT 'key' AS kind, k.sku::text AS sku, k.location::text AS location, k.channel::text AS channel,
       k.last_seq, k.on_hand, k.reserved, k.safety_stock, k.damaged, k.quality_control, k.incoming,
       k.backordered, k.preordered, k.owed, k.low, k.crossings, NULL::bigint AS low_stock_at
FROM stock_event_keys k
WHERE k.sku = ANY(%(skus)s::text[])
UNION ALL
SELECT 'threshold', t.sku, t.location, t.channel, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, t.low_stock_at
FROM stock_thresholds t
WHERE t.sku = ANY(%(skus)s::text[])
UNION ALL
SELECT 'channel_location', NULL, cl.location, c.code, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, NULL
FROM channels c
JOIN channel_locations cl ON cl.channel_id = c.id
JOIN locations l ON l.code = cl.location AND l.active
WHERE c.code IN (SELECT channel FROM stock_thresholds
                 WHERE sku = ANY(%(skus)s::text[]) AND channel <> '');

-- name: position_stock_events
-- Gives the batch's events their positions and sequence numbers. The serial range lets the
-- plan read just the batch (the unpositioned index), not the whole table.
UPDATE stock_events e
SET position = u.position, seq = u.seq
FROM unnest(%(serials)s::bigint[], %(positions)s::bigint[], %(seqs)s::bigint[]) AS u(serial, position, seq)
WHERE e.serial = u.serial AND e.position IS NULL
  AND e.serial BETWEEN %(first_serial)s AND %(last_serial)s;

-- name: insert_crossings
-- The threshold crossings the batch made, positioned among its events.
INSERT INTO stock_events (position, seq, sku, location, channel, type, low_stock_at, on_hand, reserved,
                          safety_stock, damaged, quality_control, incoming, backordered, preordered, owed)
SELECT * FROM unnest(%(positions)s::bigint[], %(seqs)s::bigint[], %(skus)s::text[], %(locations)s::text[],
                     %(channels)s::text[], %(types)s::text[], %(low_stock_at)s::bigint[],
                     %(on_hand)s::bigint[], %(reserved)s::bigint[], %(safety_stock)s::bigint[],
                     %(damaged)s::bigint[], %(quality_control)s::bigint[], %(incoming)s::bigint[],
                     %(backordered)s::bigint[], %(preordered)s::bigint[], %(owed)s::bigint[]);

-- name: remember_stock_event_keys
-- The sequencer's memory of the keys the batch touched, as of its last event.
INSERT INTO stock_event_keys AS k (sku, location, channel, last_seq, on_hand, reserved, safety_stock,
                                   damaged, quality_control, incoming, backordered, preordered, owed, low,
                                   crossings)
SELECT * FROM unnest(%(skus)s::text[], %(locations)s::text[], %(channels)s::text[], %(last_seq)s::bigint[],
                     %(on_hand)s::bigint[], %(reserved)s::bigint[], %(safety_stock)s::bigint[],
                     %(damaged)s::bigint[], %(quality_control)s::bigint[], %(incoming)s::bigint[],
                     %(backordered)s::bigint[], %(preordered)s::bigint[], %(owed)s::bigint[],
                     %(low)s::boolean[], %(crossings)s::bigint[])
ON CONFLICT (sku, location, channel) DO UPDATE
SET last_seq = EXCLUDED.last_seq, on_hand = EXCLUDED.on_hand, reserved = EXCLUDED.reserved,
    safety_stock = EXCLUDED.safety_stock, damaged = EXCLUDED.damaged,
    quality_control = EXCLUDED.quality_control, incoming = EXCLUDED.incoming,
    backordered = EXCLUDED.backordered, preordered = EXCLUDED.preordered, owed = EXCLUDED.owed,
    low = EXCLUDED.low, crossings = EXCLUDED.crossings;

-- name: advance_stock_event_cursor
-- The new last position, announced at commit (streams re-read on it).
UPDATE stock_event_cursor SET last_position = %(last_position)s
RETURNING pg_notify('stock_events', %(last_position)s::text) AS notified;

-- name: move_scan_mark
-- The scan mark as ScanMark.after computed it (inventory_svc/event_feed.py); a new settle
-- point's xid is this transaction's own, assigned after it read the last serial drawn.
UPDATE stock_event_cursor
SET scan_from = %(scan_from)s, settle_serial = %(settle_serial)s,
    settle_xid = CASE WHEN %(renew)s THEN pg_current_xact_id()::text::bigint ELSE %(settle_xid)s END;

-- name: read_stock_events
-- One statement, one snapshot: the pruning mark and the events are read together, so a
-- cursor found in range cannot lose its next events to a prune between two reads.
-- Positions are dense, so a page is a range of them (`before` bounds the scan: a filtered
-- read never walks further than one page's worth of positions).
-- last_position bounds what this snapshot could see: a read that reached `before` or
-- last_position has seen every matching event up to there.
SELECT c.pruned_through, c.last_position, e.*
FROM stock_event_cursor c
LEFT JOIN LATERAL (
    SELECT e.position, e.id::text AS id, e.sku::text AS sku, e.location::text AS location,
           e.channel::text AS channel, e.seq, e.type, e.hold_id::text AS hold_id,
           e.receipt_id::text AS receipt_id, e.request_id, e.on_hand, e.reserved, e.safety_stock,
           e.damaged, e.quality_control, e.incoming, e.backordered, e.preordered, e.owed,
           e.low_stock_at, e.create_time
    FROM stock_events e
    WHERE e.position > %(after)s AND e.position <= %(before)s
      AND (cardinality(%(skus)s::text[]) = 0 OR e.sku = ANY(%(skus)s::text[]))
      AND (cardinality(%(locations)s::text[]) = 0 OR e.location = ANY(%(locations)s::text[])
           OR e.channel = ANY(%(channels)s::text[]))
      AND (cardinality(%(channels)s::text[]) = 0 OR e.channel = ANY(%(channels)s::text[])
           OR (e.channel = '' AND e.location = ANY(%(channel_locations)s::text[])))
      AND (cardinality(%(types)s::text[]) = 0 OR e.type = ANY(%(types)s::text[]))
    ORDER BY e.position
) e ON true
ORDER BY e.position;

-- name: purge_idempotency_keys
-- Deletes up to batch_size records older than the retention, oldest first;
-- rows another transaction has locked are left for the next batch.
WITH doomed AS (
    SELECT request_id
    FROM idempotency_keys
    WHERE create_time < now() - make_interval(secs => %(retention_seconds)s)
    ORDER BY create_time
    LIMIT %(batch_size)s
    FOR UPDATE SKIP LOCKED
)
DELETE FROM idempotency_keys k
USING doomed d
WHERE k.request_id = d.request_id;

-- name: prune_stock_events
-- Deletes up to batch_size positioned events, lowest cursor first, stopping at the first one
-- younger than the retention (so every event is kept at least that long), and records the
-- highest cursor deleted: StreamStockEvents refuses cursors below it. Locks the cursor row
-- first, so two runs prune one after the other.
WITH mark AS (
    SELECT pruned_through FROM stock_event_cursor FOR UPDATE
), candidates AS (
    SELECT e.serial, e.position, e.create_time
    FROM stock_events e, mark m
    WHERE e.position > m.pruned_through
    ORDER BY e.position
    LIMIT %(batch_size)s
), first_young AS (
    SELECT min(position) AS position FROM candidates
    WHERE create_time >= now() - make_interval(secs => %(retention_seconds)s)
), doomed AS (
    SELECT c.serial FROM candidates c, first_young f
    WHERE f.position IS NULL OR c.position < f.position
), deleted AS (
    DELETE FROM stock_events e USING doomed d WHERE e.serial = d.serial
    RETURNING e.position
)
UPDATE stock_event_cursor
SET pruned_through = greatest(pruned_through, coalesce((SELECT max(position) FROM deleted), 0))
RETURNING (SELECT count(*) FROM deleted) AS pruned;

-- name: expire_overdue_batch
-- Expires up to batch_size overdue ACTIVE holds after the cursor (expire_time,
-- id), in one statement that never waits on a lock: holds another transaction
-- is finishing are skipped, and so are holds with a stock row a shopper has
-- locked (that shopper's reserve or the next run reclaims them). Stock rows are
-- taken in ascending SKU order, the one global order. The state check in
-- `expired` is the guard that lets a hold expire only once, however many run.
WITH overdue AS (
    SELECT h.id, h.expire_time
    FROM holds h
    WHERE h.state = 'ACTIVE' AND h.expire_time <= now()
      AND (h.expire_time, h.id) > (%(after_time)s::timestamptz, %(after_id)s::uuid)
    ORDER BY h.expire_time, h.id
    LIMIT %(batch_size)s
    FOR UPDATE OF h SKIP LOCKED
), locked_stock AS (
    SELECT s.sku
    FROM stock s
    WHERE s.sku IN (SELECT l.sku FROM hold_lines l JOIN overdue o ON o.id = l.hold_id)
    ORDER BY s.sku
    FOR UPDATE OF s SKIP LOCKED
), expired AS (
    -- An expired hold ended at its expire_time, however late it is reclaimed,
    -- exactly as the reserve path's reclaim_overdue_holds records it.
    UPDATE holds h SET state = 'EXPIRED', end_time = h.expire_time
    FROM overdue o
    WHERE h.id = o.id AND h.state = 'ACTIVE'
      AND NOT EXISTS (SELECT 1 FROM hold_lines l
                      WHERE l.hold_id = h.id AND l.sku NOT IN (SELECT sku FROM locked_stock))
    RETURNING h.id
), expired_lines AS (
    SELECT l.hold_id, l.sku, l.quantity FROM hold_lines l JOIN expired e ON e.id = l.hold_id
), ledger AS (
    INSERT INTO stock_ledger (sku, delta_on_hand, delta_reserved, reason, hold_id)
    SELECT sku, 0, -quantity, 'EXPIRE', hold_id FROM expired_lines
), freed AS (
    SELECT sku, sum(quantity)::bigint AS quantity FROM expired_lines GROUP BY sku
), released AS (
    UPDATE stock s SET reserved = s.reserved - f.quantity, update_time = now()
    FROM freed f
    WHERE s.sku = f.sku
)
SELECT (SELECT count(*) FROM overdue) AS taken,
       (SELECT count(*) FROM expired) AS expired,
       -- The cursor for the next batch: the last hold this one took.
       (SELECT expire_time FROM overdue ORDER BY expire_time DESC, id DESC LIMIT 1) AS last_expire_time,
       (SELECT id FROM overdue ORDER BY expire_time DESC, id DESC LIMIT 1) AS last_id;

-- name: oldest_overdue_age
-- Seconds the oldest ACTIVE hold has been past its expire_time (0: none).
SELECT COALESCE(extract(epoch FROM now() - min(expire_time)), 0)::float8 AS seconds
FROM holds
WHERE state = 'ACTIVE' AND expire_time <= now();

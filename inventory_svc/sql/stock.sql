-- name: stock_levels
-- reserved leaves out ACTIVE holds already past their expire_time: they no
-- longer count, even before anything has reclaimed them.
WITH overdue AS (
    SELECT l.sku, sum(l.quantity)::bigint AS quantity
    FROM holds h JOIN hold_lines l ON l.hold_id = h.id
    WHERE h.state = 'ACTIVE' AND h.expire_time <= now() AND l.sku = ANY(%(skus)s::text[])
    GROUP BY l.sku
)
SELECT s.sku, s.on_hand, s.reserved - COALESCE(o.quantity, 0) AS reserved
FROM stock s LEFT JOIN overdue o ON o.sku = s.sku
WHERE s.sku = ANY(%(skus)s::text[]);

-- name: lock_stock
-- Locks the rows of the requested SKUs and of every SKU sharing an overdue
-- ACTIVE hold with them, in ascending SKU order (the one global lock order).
WITH overdue_skus AS (
    SELECT other.sku
    FROM holds h
    JOIN hold_lines mine ON mine.hold_id = h.id AND mine.sku = ANY(%(skus)s::text[])
    JOIN hold_lines other ON other.hold_id = h.id
    WHERE h.state = 'ACTIVE' AND h.expire_time <= now()
)
SELECT s.sku, s.on_hand, s.reserved, now() AS now,
       EXISTS (SELECT 1 FROM overdue_skus) AS has_overdue
FROM stock s
-- One array, not "= ANY(...) OR IN (...)": an OR here makes the planner scan all of stock.
WHERE s.sku = ANY(%(skus)s::text[] || ARRAY(SELECT sku FROM overdue_skus))
ORDER BY s.sku
FOR UPDATE OF s;

-- name: reclaim_overdue_holds
-- Expires the overdue ACTIVE holds on the requested SKUs whose every line is
-- on a row this transaction has locked; holds another transaction is
-- finishing are skipped (SKIP LOCKED), never waited for.
WITH candidates AS (
    SELECT h.id
    FROM holds h
    WHERE h.state = 'ACTIVE' AND h.expire_time <= now()
      AND EXISTS (SELECT 1 FROM hold_lines l
                  WHERE l.hold_id = h.id AND l.sku = ANY(%(skus)s::text[]))
      AND NOT EXISTS (SELECT 1 FROM hold_lines l
                      WHERE l.hold_id = h.id AND NOT l.sku = ANY(%(locked)s::text[]))
    ORDER BY h.id
    FOR UPDATE OF h SKIP LOCKED
), expired AS (
    -- An expired hold ended at its expire_time, however late it is reclaimed,
    -- so it reads the same before and after.
    UPDATE holds h SET state = 'EXPIRED', end_time = h.expire_time
    FROM candidates c
    WHERE h.id = c.id AND h.state = 'ACTIVE'
    RETURNING h.id
), expired_lines AS (
    SELECT l.hold_id, l.sku, l.quantity FROM hold_lines l JOIN expired e ON e.id = l.hold_id
), ledger AS (
    INSERT INTO stock_ledger (sku, delta_on_hand, delta_reserved, reason, hold_id)
    SELECT sku, 0, -quantity, 'EXPIRE', hold_id FROM expired_lines
), freed AS (
    SELECT sku, sum(quantity)::bigint AS quantity FROM expired_lines GROUP BY sku
)
UPDATE stock s SET reserved = s.reserved - f.quantity, update_time = now()
FROM freed f
WHERE s.sku = f.sku
RETURNING s.sku, s.on_hand, s.reserved;

-- name: apply_adjustment
WITH updated AS (
    UPDATE stock SET on_hand = on_hand + %(delta)s, update_time = now()
    WHERE sku = %(sku)s
    RETURNING sku, on_hand, reserved
), ledger AS (
    INSERT INTO stock_ledger (sku, delta_on_hand, delta_reserved, reason, request_id, note)
    SELECT sku, %(delta)s, 0, %(reason)s, %(request_id)s, %(note)s FROM updated
)
SELECT sku, on_hand, reserved FROM updated;

-- name: listen_stock_levels
-- The channel the stock_levels_notify trigger (migration 0004) announces each changed SKU on.
LISTEN stock_levels;

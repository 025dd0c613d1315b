-- name: stock_levels
-- The level of each requested SKU at every location that keeps it. reserved leaves out
-- the allocations of ACTIVE holds already past their expire_time: they no longer count,
-- even before anything has reclaimed them.
WITH overdue AS (
    SELECT a.sku, a.location, sum(a.quantity)::bigint AS quantity
    FROM holds h JOIN hold_allocations a ON a.hold_id = h.id
    WHERE h.state = 'ACTIVE' AND h.expire_time <= now() AND a.sku = ANY(%(skus)s::text[])
    GROUP BY a.sku, a.location
)
SELECT s.sku, s.location, s.on_hand, s.reserved - COALESCE(o.quantity, 0) AS reserved
FROM stock s LEFT JOIN overdue o ON o.sku = s.sku AND o.location = s.location
WHERE s.sku = ANY(%(skus)s::text[])
ORDER BY s.sku, s.location;

-- name: lock_stock
-- Locks every location's row of the requested SKUs, and of every SKU sharing an overdue
-- ACTIVE hold with them, in ascending (SKU, location) order: the one global lock order.
WITH overdue_skus AS (
    SELECT other.sku
    FROM holds h
    JOIN hold_allocations mine ON mine.hold_id = h.id AND mine.sku = ANY(%(skus)s::text[])
    JOIN hold_allocations other ON other.hold_id = h.id
    WHERE h.state = 'ACTIVE' AND h.expire_time <= now()
)
SELECT s.sku, s.location, s.on_hand, s.reserved, now() AS now,
       EXISTS (SELECT 1 FROM overdue_skus) AS has_overdue
FROM stock s
-- One array, not "= ANY(...) OR IN (...)": an OR here makes the planner scan all of stock.
WHERE s.sku = ANY(%(skus)s::text[] || ARRAY(SELECT sku FROM overdue_skus))
ORDER BY s.sku, s.location
FOR UPDATE OF s;

-- name: reclaim_overdue_holds
-- Expires the overdue ACTIVE holds on the requested SKUs whose every allocation is on a
-- SKU this transaction has locked (all of a SKU's locations are locked together); holds
-- another transaction is finishing are skipped (SKIP LOCKED), never waited for.
WITH candidates AS (
    SELECT h.id
    FROM holds h
    WHERE h.state = 'ACTIVE' AND h.expire_time <= now()
      AND EXISTS (SELECT 1 FROM hold_allocations a
                  WHERE a.hold_id = h.id AND a.sku = ANY(%(skus)s::text[]))
      AND NOT EXISTS (SELECT 1 FROM hold_allocations a
                      WHERE a.hold_id = h.id AND NOT a.sku = ANY(%(locked)s::text[]))
    ORDER BY h.id
    FOR UPDATE OF h SKIP LOCKED
)
SELECT sku, location, on_hand, reserved FROM expire_holds(ARRAY(SELECT id FROM candidates));

-- name: insert_stock_row
-- The first row of a SKU at a location (empty: it breaks no invariant), made by a verb that
-- already holds every other location's row of the SKU: anyone else who would touch it locks
-- those first, so the new row's lock waits on no one and no one waits on it out of order.
INSERT INTO stock (sku, location, on_hand, reserved)
VALUES (%(sku)s, %(location)s, 0, 0)
RETURNING sku, location, on_hand, reserved;

-- name: apply_adjustment
WITH updated AS (
    UPDATE stock SET on_hand = on_hand + %(delta)s, update_time = now()
    WHERE sku = %(sku)s AND location = %(location)s
    RETURNING sku, location, on_hand, reserved
), ledger AS (
    INSERT INTO stock_ledger (sku, location, delta_on_hand, delta_reserved, reason, request_id, note)
    SELECT sku, location, %(delta)s, 0, %(reason)s, %(request_id)s, %(note)s FROM updated
)
SELECT sku, location, on_hand, reserved FROM updated;

-- name: apply_transfer
-- on_hand out of one location and into another, one TRANSFER ledger row each; both rows
-- are already locked in the global order.
WITH moved AS (
    UPDATE stock s
    SET on_hand = s.on_hand + CASE WHEN s.location = %(from_location)s THEN -%(quantity)s
                                   ELSE %(quantity)s END,
        update_time = now()
    WHERE s.sku = %(sku)s AND s.location IN (%(from_location)s, %(to_location)s)
    RETURNING s.sku, s.location, s.on_hand, s.reserved
), ledger AS (
    INSERT INTO stock_ledger (sku, location, delta_on_hand, delta_reserved, reason, request_id, note)
    SELECT sku, location,
           CASE WHEN location = %(from_location)s THEN -%(quantity)s ELSE %(quantity)s END,
           0, 'TRANSFER', %(request_id)s, %(note)s
    FROM moved
)
SELECT sku, location, on_hand, reserved FROM moved;

-- name: listen_stock_levels
-- The channel the stock_levels_notify trigger (migration 0004) announces each changed SKU on.
LISTEN stock_levels;

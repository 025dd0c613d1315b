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

-- name: insert_stock_rows
-- The first rows of SKUs at locations (empty: they break no invariant), made by a verb that
-- already holds every other location's row of each SKU: anyone else who would touch one locks
-- those first, so a new row's lock waits on no one and no one waits on it out of order.
-- A row another transaction made while this one waited for those locks was not in
-- lock_stock's snapshot (READ COMMITTED), so it is not locked yet: it comes back as it is now
-- (this statement's snapshot is newer), locked if no one holds it, and is left out of the
-- answer if someone does: that one may be waiting for this transaction in the global order,
-- so waiting for it could deadlock (the caller starts again: StaleSnapshot).
WITH wanted AS (
    SELECT sku, location FROM unnest(%(skus)s::text[], %(locations)s::text[]) AS t(sku, location)
), made AS (
    INSERT INTO stock (sku, location, on_hand, reserved)
    SELECT sku, location, 0, 0 FROM wanted ORDER BY sku, location
    ON CONFLICT (sku, location) DO NOTHING
    RETURNING sku, location, on_hand, reserved
), raced AS (
    SELECT s.sku, s.location, s.on_hand, s.reserved
    FROM stock s JOIN wanted w ON w.sku = s.sku AND w.location = s.location
    WHERE s.sku = ANY(%(skus)s::text[])
    ORDER BY s.sku, s.location
    FOR UPDATE OF s SKIP LOCKED
)
SELECT sku, location, on_hand, reserved FROM made
UNION ALL
SELECT sku, location, on_hand, reserved FROM raced;

-- name: apply_stock_updates
-- Every changed row of a BatchUpdateStock in one statement: on_hand moved by each row's
-- delta (new - old, worked out on the rows this transaction has locked, so the same as
-- setting the new value) and one ledger row each. The rows travel as one JSON document.
WITH changes AS (
    SELECT sku, location, delta, reason, note
    FROM jsonb_to_recordset(%(rows)s::jsonb) AS t(sku text, location text, delta bigint, reason text, note text)
), updated AS (
    UPDATE stock s SET on_hand = s.on_hand + c.delta, update_time = now()
    FROM changes c
    -- The array lets the planner find the rows by key instead of scanning all of stock.
    WHERE s.sku = c.sku AND s.location = c.location AND s.sku = ANY(%(skus)s::text[])
    RETURNING s.sku, s.location, s.on_hand, s.reserved
), ledger AS (
    INSERT INTO stock_ledger (sku, location, delta_on_hand, delta_reserved, reason, request_id, note)
    SELECT c.sku, c.location, c.delta, 0, c.reason, %(request_id)s, c.note
    FROM changes c JOIN updated u ON u.sku = c.sku AND u.location = c.location
    ORDER BY c.sku, c.location
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

-- name: insert_holds
-- The holds of one batch in one statement: each hold's idempotency record with its
-- response, the hold, its lines, its allocations with one HOLD ledger row each, and
-- reserved raised once per (SKU, location) (the rows are already locked by lock_stock). A
-- request_id that another transaction stored first makes nothing: its hold is left out,
-- and so is it from the returned request_ids, so the caller replays that request's first
-- response instead. The batch travels as three JSON documents: one parameter each instead
-- of an array per column keeps the client's encoding cost per batch, not per value.
WITH new_holds AS (
    SELECT request_id, hold_id, owner_id, expire_time, currency, customer_tier, channel, strategy,
           decode(fingerprint, 'hex') AS fingerprint, convert_to(response, 'UTF8') AS response
    FROM jsonb_to_recordset(%(holds)s::jsonb)
         AS t(request_id text, hold_id uuid, owner_id text, expire_time timestamptz, currency text,
              customer_tier text, channel text, strategy text, fingerprint text, response text)
), keys AS (
    INSERT INTO idempotency_keys (request_id, method, fingerprint, response)
    -- Keys in one order in every batch: two batches never wait on each other crosswise.
    SELECT request_id, %(method)s, fingerprint, response FROM new_holds ORDER BY request_id
    ON CONFLICT (request_id) DO NOTHING
    RETURNING request_id
), made AS (
    SELECT n.* FROM new_holds n JOIN keys k ON k.request_id = n.request_id
), inserted AS (
    INSERT INTO holds (id, owner_id, state, create_time, expire_time, currency, customer_tier,
                       channel, strategy)
    SELECT hold_id, owner_id, 'ACTIVE', %(create_time)s, expire_time, currency, customer_tier,
           channel, strategy
    FROM made
), cart AS (
    SELECT c.hold_id, c.sku, c.quantity, c.unit_price_minor, c.location
    FROM jsonb_to_recordset(%(lines)s::jsonb)
         AS c(hold_id uuid, sku text, quantity bigint, unit_price_minor bigint, location text)
    JOIN made m ON m.hold_id = c.hold_id
), lines AS (
    INSERT INTO hold_lines (hold_id, sku, quantity, unit_price_minor, location)
    SELECT hold_id, sku, quantity, unit_price_minor, location FROM cart
), taken AS (
    SELECT a.hold_id, a.sku, a.location, a.quantity, m.request_id
    FROM jsonb_to_recordset(%(allocations)s::jsonb)
         AS a(hold_id uuid, sku text, location text, quantity bigint)
    JOIN made m ON m.hold_id = a.hold_id
), allocations AS (
    -- Foreign keys are checked when the whole statement ends, the lines inserted by then.
    INSERT INTO hold_allocations (hold_id, sku, location, quantity)
    SELECT hold_id, sku, location, quantity FROM taken
), ledger AS (
    INSERT INTO stock_ledger (sku, location, delta_on_hand, delta_reserved, reason, hold_id, request_id)
    SELECT sku, location, 0, quantity, 'HOLD', hold_id, request_id FROM taken
), reserved AS (
    UPDATE stock s SET reserved = s.reserved + t.quantity, update_time = now()
    FROM (SELECT sku, location, sum(quantity)::bigint AS quantity FROM taken GROUP BY sku, location) t
    -- The array lets the planner find the rows by key instead of scanning all of stock.
    WHERE s.sku = t.sku AND s.location = t.location AND s.sku = ANY(%(skus)s::text[])
)
SELECT request_id FROM keys;

-- name: finish_hold
-- Moves an ACTIVE hold to a terminal state: one ledger row per allocation, and reserved
-- (and for COMMIT, on_hand) lowered by the allocated quantities at their locations.
WITH finished AS (
    UPDATE holds SET state = %(state)s, end_time = now()
    WHERE id = %(id)s AND state = 'ACTIVE'
    RETURNING id
), allocated AS (
    SELECT a.sku, a.location, a.quantity FROM hold_allocations a JOIN finished f ON f.id = a.hold_id
), ledger AS (
    INSERT INTO stock_ledger (sku, location, delta_on_hand, delta_reserved, reason, hold_id, request_id)
    SELECT sku, location, CASE WHEN %(state)s = 'COMMITTED' THEN -quantity ELSE 0 END, -quantity,
           %(reason)s, %(id)s, %(request_id)s
    FROM allocated
)
UPDATE stock s
SET reserved = s.reserved - allocated.quantity,
    on_hand = s.on_hand - CASE WHEN %(state)s = 'COMMITTED' THEN allocated.quantity ELSE 0 END,
    update_time = now()
FROM allocated
WHERE s.sku = allocated.sku AND s.location = allocated.location
RETURNING now() AS end_time;

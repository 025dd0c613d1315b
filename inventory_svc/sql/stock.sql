-- name: stock_levels
-- The level of each requested SKU at every location that keeps it. reserved leaves out
-- the allocations of ACTIVE holds already past their expire_time: they no longer count,
-- even before anything has reclaimed them.
WITH overdue AS (
    SELECT a.sku, a.location, sum(a.quantity)::bigint AS quantity,
           sum(a.backordered)::bigint AS backordered, sum(a.preordered)::bigint AS preordered
    FROM holds h JOIN hold_allocations a ON a.hold_id = h.id
    WHERE h.state = 'ACTIVE' AND h.expire_time <= now() AND a.sku = ANY(%(skus)s::text[])
    GROUP BY a.sku, a.location
)
SELECT s.sku, s.location, s.on_hand, s.reserved - COALESCE(o.quantity, 0) AS reserved,
       s.safety_stock, s.damaged, s.quality_control, s.incoming,
       s.backordered - COALESCE(o.backordered, 0) AS backordered,
       s.preordered - COALESCE(o.preordered, 0) AS preordered, s.owed
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
SELECT s.sku, s.location, s.on_hand, s.reserved, s.safety_stock, s.damaged, s.quality_control, s.incoming, s.backordered, s.preordered, s.owed, now() AS now,
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
SELECT sku, location, on_hand, reserved, backordered, preordered
FROM expire_holds(ARRAY(SELECT id FROM candidates));

-- name: apply_adjustment
WITH updated AS (
    UPDATE stock SET on_hand = on_hand + %(delta)s, update_time = now()
    WHERE sku = %(sku)s AND location = %(location)s
    RETURNING sku, location, on_hand, reserved, safety_stock, damaged, quality_control, incoming, backordered, preordered, owed
), ledger AS (
    INSERT INTO stock_ledger (sku, location, delta_on_hand, delta_reserved, reason, request_id, note)
    SELECT sku, location, %(delta)s, 0, %(reason)s, %(request_id)s, %(note)s FROM updated
)
SELECT sku, location, on_hand, reserved, safety_stock, damaged, quality_control, incoming, backordered, preordered, owed FROM updated;

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
    RETURNING sku, location, on_hand, reserved, safety_stock, damaged, quality_control, incoming, backordered, preordered, owed
), raced AS (
    SELECT s.sku, s.location, s.on_hand, s.reserved, s.safety_stock, s.damaged, s.quality_control, s.incoming, s.backordered, s.preordered, s.owed
    FROM stock s JOIN wanted w ON w.sku = s.sku AND w.location = s.location
    WHERE s.sku = ANY(%(skus)s::text[])
    ORDER BY s.sku, s.location
    FOR UPDATE OF s SKIP LOCKED
)
SELECT sku, location, on_hand, reserved, safety_stock, damaged, quality_control, incoming, backordered, preordered, owed FROM made
UNION ALL
SELECT sku, location, on_hand, reserved, safety_stock, damaged, quality_control, incoming, backordered, preordered, owed FROM raced;

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
    RETURNING s.sku, s.location
), ledger AS (
    INSERT INTO stock_ledger (sku, location, delta_on_hand, delta_reserved, reason, request_id, note)
    SELECT c.sku, c.location, c.delta, 0, c.reason, %(request_id)s, c.note
    FROM changes c JOIN updated u ON u.sku = c.sku AND u.location = c.location
    ORDER BY c.sku, c.location
)
SELECT sku, location FROM updated;

-- name: apply_transfer
-- on_hand out of one location and into another, one TRANSFER ledger row each; both rows
-- are already locked in the global order.
WITH moved AS (
    UPDATE stock s
    SET on_hand = s.on_hand + CASE WHEN s.location = %(from_location)s THEN -%(quantity)s
                                   ELSE %(quantity)s END,
        update_time = now()
    WHERE s.sku = %(sku)s AND s.location IN (%(from_location)s, %(to_location)s)
    RETURNING s.sku, s.location, s.on_hand, s.reserved, s.safety_stock, s.damaged, s.quality_control, s.incoming, s.backordered, s.preordered, s.owed
), ledger AS (
    INSERT INTO stock_ledger (sku, location, delta_on_hand, delta_reserved, reason, request_id, note)
    SELECT sku, location,
           CASE WHEN location = %(from_location)s THEN -%(quantity)s ELSE %(quantity)s END,
           0, 'TRANSFER', %(request_id)s, %(note)s
    FROM moved
)
SELECT sku, location, on_hand, reserved, safety_stock, damaged, quality_control, incoming, backordered, preordered, owed FROM moved;

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
    SELECT a.hold_id, a.sku, a.location, a.quantity, a.backordered, a.preordered, m.request_id
    FROM jsonb_to_recordset(%(allocations)s::jsonb)
         AS a(hold_id uuid, sku text, location text, quantity bigint, backordered bigint,
              preordered bigint)
    JOIN made m ON m.hold_id = a.hold_id
), allocations AS (
    -- Foreign keys are checked when the whole statement ends, the lines inserted by then.
    INSERT INTO hold_allocations (hold_id, sku, location, quantity, backordered, preordered)
    SELECT hold_id, sku, location, quantity, backordered, preordered FROM taken
), ledger AS (
    INSERT INTO stock_ledger (sku, location, delta_on_hand, delta_reserved, delta_backordered,
                              delta_preordered, reason, hold_id, request_id)
    SELECT sku, location, 0, quantity, backordered, preordered, 'HOLD', hold_id, request_id FROM taken
), reserved AS (
    UPDATE stock s SET reserved = s.reserved + t.quantity, backordered = s.backordered + t.backordered,
                       preordered = s.preordered + t.preordered, update_time = now()
    FROM (SELECT sku, location, sum(quantity)::bigint AS quantity,
                 sum(backordered)::bigint AS backordered, sum(preordered)::bigint AS preordered
          FROM taken GROUP BY sku, location) t
    -- The array lets the planner find the rows by key instead of scanning all of stock.
    WHERE s.sku = t.sku AND s.location = t.location AND s.sku = ANY(%(skus)s::text[])
)
SELECT request_id FROM keys;

-- name: finish_hold
-- Moves an ACTIVE hold to a terminal state: one ledger row per allocation, and reserved
-- (and for COMMIT, on_hand) lowered by the allocated quantities at their locations; the
-- backordered and preordered units are given back, and on COMMIT become owed (an owed row
-- per allocation that has any, covered later oldest commit first).
WITH finished AS (
    UPDATE holds SET state = %(state)s, end_time = now()
    WHERE id = %(id)s AND state = 'ACTIVE'
    RETURNING id
), allocated AS (
    SELECT a.hold_id, a.sku, a.location, a.quantity, a.backordered, a.preordered,
           CASE WHEN %(state)s = 'COMMITTED' THEN a.backordered + a.preordered ELSE 0 END AS owed
    FROM hold_allocations a JOIN finished f ON f.id = a.hold_id
), ledger AS (
    INSERT INTO stock_ledger (sku, location, delta_on_hand, delta_reserved, delta_backordered,
                              delta_preordered, delta_owed, reason, hold_id, request_id)
    SELECT sku, location, CASE WHEN %(state)s = 'COMMITTED' THEN -quantity ELSE 0 END, -quantity,
           -backordered, -preordered, owed, %(reason)s, hold_id, %(request_id)s
    FROM allocated
), owed_rows AS (
    INSERT INTO owed (hold_id, sku, location, quantity, commit_time)
    SELECT hold_id, sku, location, owed, now() FROM allocated WHERE owed > 0
)
UPDATE stock s
SET reserved = s.reserved - allocated.quantity,
    on_hand = s.on_hand - CASE WHEN %(state)s = 'COMMITTED' THEN allocated.quantity ELSE 0 END,
    backordered = s.backordered - allocated.backordered,
    preordered = s.preordered - allocated.preordered,
    owed = s.owed + allocated.owed,
    update_time = now()
FROM allocated
WHERE s.sku = allocated.sku AND s.location = allocated.location
RETURNING s.sku, s.location, allocated.owed;

-- name: cover_owed
-- Owed units (committed beyond stock) delivered from what is available at each given
-- (SKU, location), oldest commit first: on_hand and owed both drop by the units covered, one
-- COVER ledger row per owed row touched. Run after whatever raised on_hand, on rows already
-- locked (owed rows are locked by the UPDATE, after the stock rows: the global order).
WITH wanted AS (
    SELECT sku, location FROM unnest(%(skus)s::text[], %(locations)s::text[]) AS t(sku, location)
), target AS (
    SELECT s.sku, s.location,
           LEAST(s.owed, s.on_hand - s.reserved - s.safety_stock - s.damaged - s.quality_control)
               AS units
    FROM stock s JOIN wanted w ON w.sku = s.sku AND w.location = s.location
    WHERE s.sku = ANY(%(skus)s::text[]) AND s.owed > 0
), queue AS (
    SELECT o.hold_id, o.sku, o.location, o.quantity, o.commit_time, t.units,
           sum(o.quantity) OVER (PARTITION BY o.sku, o.location ORDER BY o.commit_time, o.hold_id)
               - o.quantity AS ahead
    FROM owed o JOIN target t ON t.sku = o.sku AND t.location = o.location
    WHERE o.quantity > 0 AND t.units > 0
), covered AS (
    SELECT hold_id, sku, location, commit_time, LEAST(quantity, units - ahead) AS units
    FROM queue WHERE ahead < units
), owed_rows AS (
    UPDATE owed o SET quantity = o.quantity - c.units
    FROM covered c
    WHERE o.hold_id = c.hold_id AND o.sku = c.sku AND o.location = c.location
), ledger AS (
    INSERT INTO stock_ledger (sku, location, delta_on_hand, delta_reserved, delta_owed, reason,
                              hold_id, request_id)
    SELECT sku, location, -units, 0, -units, 'COVER', hold_id, %(request_id)s
    -- In the order covered (the ledger's ids show it).
    FROM covered ORDER BY sku, location, commit_time, hold_id
)
UPDATE stock s SET on_hand = s.on_hand - c.units, owed = s.owed - c.units, update_time = now()
FROM (SELECT sku, location, sum(units)::bigint AS units FROM covered GROUP BY sku, location) c
WHERE s.sku = c.sku AND s.location = c.location AND s.sku = ANY(%(skus)s::text[])
RETURNING s.sku, s.location, s.on_hand, s.reserved, s.safety_stock, s.damaged, s.quality_control, s.incoming, s.backordered, s.preordered, s.owed;

-- name: apply_move
-- Units between available and an unsellable state, or between two states, at one locked
-- (SKU, location): on_hand unchanged, one MOVE ledger row per side (the AVAILABLE side's
-- deltas are all 0: available is what the others leave).
WITH moved AS (
    UPDATE stock s
    SET safety_stock = s.safety_stock + %(safety_stock)s, damaged = s.damaged + %(damaged)s,
        quality_control = s.quality_control + %(quality_control)s, update_time = now()
    WHERE s.sku = %(sku)s AND s.location = %(location)s
    RETURNING s.sku, s.location, s.on_hand, s.reserved, s.safety_stock, s.damaged, s.quality_control, s.incoming, s.backordered, s.preordered, s.owed
), sides AS (
    SELECT * FROM jsonb_to_recordset(%(sides)s::jsonb)
        AS t(safety_stock bigint, damaged bigint, quality_control bigint, note text)
), ledger AS (
    INSERT INTO stock_ledger (sku, location, delta_on_hand, delta_reserved, delta_safety_stock,
                              delta_damaged, delta_quality_control, reason, request_id, note)
    SELECT m.sku, m.location, 0, 0, x.safety_stock, x.damaged, x.quality_control, 'MOVE',
           %(request_id)s, x.note
    FROM moved m CROSS JOIN sides x
)
SELECT sku, location, on_hand, reserved, safety_stock, damaged, quality_control, incoming, backordered, preordered, owed FROM moved;

-- name: stock_policies
-- The inventory policies of the given SKUs: each variant's default (location NULL) and its
-- per-location overrides. Sent right after lock_stock in the same pipeline: it starts once
-- the stock rows are locked, so it sees every policy change committed before (a change
-- locks the same rows first).
SELECT sku, location, policy, backorder_limit, preorder_limit, preorder_end_time, update_time
FROM inventory_policies
WHERE sku = ANY(%(skus)s::text[]);

-- name: upsert_policy
INSERT INTO inventory_policies (sku, location, policy, backorder_limit, preorder_limit,
                                preorder_end_time, update_time)
VALUES (%(sku)s, %(location)s, %(policy)s, %(backorder_limit)s, %(preorder_limit)s,
        %(preorder_end_time)s, now())
ON CONFLICT (sku, (COALESCE(location, ''))) DO UPDATE
SET policy = EXCLUDED.policy, backorder_limit = EXCLUDED.backorder_limit,
    preorder_limit = EXCLUDED.preorder_limit, preorder_end_time = EXCLUDED.preorder_end_time,
    update_time = now()
RETURNING sku, location, policy, backorder_limit, preorder_limit, preorder_end_time, update_time;

-- name: upsert_threshold
-- location and channel '' is the variant's default.
INSERT INTO stock_thresholds (sku, location, channel, low_stock_at, update_time)
VALUES (%(sku)s, %(location)s, %(channel)s, %(low_stock_at)s, now())
ON CONFLICT (sku, location, channel) DO UPDATE
SET low_stock_at = EXCLUDED.low_stock_at, update_time = now()
RETURNING sku, location, channel, low_stock_at, update_time;

-- name: insert_receipt
WITH receipt AS (
    INSERT INTO receipts (id, sku, location, expected, expected_time, note)
    VALUES (%(id)s, %(sku)s, %(location)s, %(quantity)s, %(expected_time)s, %(note)s)
    RETURNING id::text, sku, location, expected, received, expected_time, state, note, create_time
), ledger AS (
    INSERT INTO stock_ledger (sku, location, delta_on_hand, delta_reserved, delta_incoming, reason,
                              receipt_id, request_id, note)
    SELECT sku, location, 0, 0, expected, 'EXPECT', id::uuid, %(request_id)s, note FROM receipt
), level AS (
    UPDATE stock s SET incoming = s.incoming + %(quantity)s, update_time = now()
    WHERE s.sku = %(sku)s AND s.location = %(location)s
)
SELECT * FROM receipt;

-- name: get_receipt
SELECT id::text, sku, location, expected, received, expected_time, state, note, create_time
FROM receipts WHERE id = %(id)s;

-- name: lock_receipt
SELECT id::text, sku, location, expected, received, expected_time, state, note, create_time
FROM receipts WHERE id = %(id)s FOR UPDATE;

-- name: apply_receipt
-- Units of a locked receipt received (RECEIPT: on_hand up, incoming down by what was still
-- expected of them) or the rest cancelled (CANCEL: incoming down); one ledger row.
WITH receipt AS (
    UPDATE receipts r
    SET received = r.received + %(received)s, state = %(state)s, update_time = now()
    WHERE r.id = %(id)s
    RETURNING r.id::text, r.sku, r.location, r.expected, r.received, r.expected_time, r.state,
              r.note, r.create_time
), level AS (
    UPDATE stock s SET on_hand = s.on_hand + %(received)s, incoming = s.incoming - %(incoming)s,
                       update_time = now()
    WHERE s.sku = %(sku)s AND s.location = %(location)s
    RETURNING s.sku, s.location, s.on_hand, s.reserved, s.safety_stock, s.damaged, s.quality_control, s.incoming, s.backordered, s.preordered, s.owed
), ledger AS (
    INSERT INTO stock_ledger (sku, location, delta_on_hand, delta_reserved, delta_incoming, reason,
                              receipt_id, request_id, note)
    SELECT sku, location, %(received)s, 0, -%(incoming)s, %(reason)s, %(id)s::uuid, %(request_id)s,
           %(note)s
    FROM level
)
SELECT r.*, l.on_hand, l.reserved, l.safety_stock, l.damaged, l.quality_control, l.incoming,
       l.backordered, l.preordered, l.owed
FROM receipt r CROSS JOIN level l;

-- name: list_receipts
SELECT id::text, sku, location, expected, received, expected_time, state, note, create_time
FROM receipts
WHERE sku = %(sku)s
  AND (%(location)s::text IS NULL OR location = %(location)s::text)
  AND (NOT %(open_only)s OR state = 'OPEN')
  AND (%(after)s::uuid IS NULL OR id > %(after)s::uuid)
ORDER BY id
LIMIT %(limit)s;

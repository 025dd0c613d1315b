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

-- name: get_hold
-- An ACTIVE hold past its expire_time reads as EXPIRED whether or not it has
-- been reclaimed yet. Each line carries its allocations as [location, quantity] pairs.
SELECT h.id::text, h.owner_id,
       CASE WHEN h.state = 'ACTIVE' AND h.expire_time <= now() THEN 'EXPIRED' ELSE h.state END
           AS state,
       h.create_time, h.expire_time,
       CASE WHEN h.state = 'ACTIVE' AND h.expire_time <= now() THEN h.expire_time
            ELSE h.end_time END AS end_time,
       h.currency, h.customer_tier, h.channel, h.strategy,
       array_agg(l.sku ORDER BY l.sku) AS skus,
       array_agg(l.quantity ORDER BY l.sku) AS quantities,
       array_agg(l.unit_price_minor ORDER BY l.sku) AS unit_prices,
       array_agg(l.location ORDER BY l.sku) AS pins,
       array_agg((SELECT jsonb_agg(jsonb_build_array(a.location, a.quantity) ORDER BY a.location)
                  FROM hold_allocations a WHERE a.hold_id = l.hold_id AND a.sku = l.sku)
                 ORDER BY l.sku) AS allocations,
       now() AS now
FROM holds h JOIN hold_lines l ON l.hold_id = h.id
WHERE h.id = %(id)s
GROUP BY h.id;

-- name: list_holds
WITH page AS (
    SELECT h.id, h.owner_id, h.state, h.create_time, h.expire_time, h.end_time, h.currency,
           h.customer_tier, h.channel, h.strategy,
           CASE WHEN h.state = 'ACTIVE' AND h.expire_time <= now() THEN 'EXPIRED'
                ELSE h.state END AS effective_state
    FROM holds h
    WHERE h.owner_id = %(owner_id)s
      AND (%(after)s::uuid IS NULL OR h.id > %(after)s::uuid)
)
SELECT p.id::text, p.owner_id, p.effective_state AS state,
       p.create_time, p.expire_time,
       CASE WHEN p.state = 'ACTIVE' AND p.effective_state = 'EXPIRED' THEN p.expire_time
            ELSE p.end_time END AS end_time,
       p.currency, p.customer_tier, p.channel, p.strategy,
       array_agg(l.sku ORDER BY l.sku) AS skus,
       array_agg(l.quantity ORDER BY l.sku) AS quantities,
       array_agg(l.unit_price_minor ORDER BY l.sku) AS unit_prices,
       array_agg(l.location ORDER BY l.sku) AS pins,
       array_agg((SELECT jsonb_agg(jsonb_build_array(a.location, a.quantity) ORDER BY a.location)
                  FROM hold_allocations a WHERE a.hold_id = l.hold_id AND a.sku = l.sku)
                 ORDER BY l.sku) AS allocations,
       now() AS now
FROM page p JOIN hold_lines l ON l.hold_id = p.id
WHERE %(state)s::text IS NULL OR p.effective_state = %(state)s::text
GROUP BY p.id, p.owner_id, p.effective_state, p.state, p.create_time, p.expire_time, p.end_time,
         p.currency, p.customer_tier, p.channel, p.strategy
ORDER BY p.id
LIMIT %(limit)s;

-- name: lock_hold
SELECT state, expire_time, create_time, now() AS now FROM holds WHERE id = %(id)s FOR UPDATE;

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

-- name: extend_hold
UPDATE holds SET expire_time = %(expire_time)s
WHERE id = %(id)s AND state = 'ACTIVE';

-- name: insert_holds
-- The holds of one batch in one statement: each hold's idempotency record with its
-- response, the hold, its lines, one HOLD ledger row per line, and reserved raised
-- once per SKU (the rows are already locked by lock_stock). A request_id that another
-- transaction stored first makes nothing: its hold is left out, and so is it from the
-- returned request_ids, so the caller replays that request's first response instead.
-- The batch travels as two JSON documents: one parameter each instead of an array per
-- column keeps the client's encoding cost per batch, not per value.
WITH new_holds AS (
    SELECT request_id, hold_id, owner_id, expire_time, currency, customer_tier,
           decode(fingerprint, 'hex') AS fingerprint, convert_to(response, 'UTF8') AS response
    FROM jsonb_to_recordset(%(holds)s::jsonb)
         AS t(request_id text, hold_id uuid, owner_id text, expire_time timestamptz, currency text,
              customer_tier text, fingerprint text, response text)
), keys AS (
    INSERT INTO idempotency_keys (request_id, method, fingerprint, response)
    -- Keys in one order in every batch: two batches never wait on each other crosswise.
    SELECT request_id, %(method)s, fingerprint, response FROM new_holds ORDER BY request_id
    ON CONFLICT (request_id) DO NOTHING
    RETURNING request_id
), made AS (
    SELECT n.* FROM new_holds n JOIN keys k ON k.request_id = n.request_id
), inserted AS (
    INSERT INTO holds (id, owner_id, state, create_time, expire_time, currency, customer_tier)
    SELECT hold_id, owner_id, 'ACTIVE', %(create_time)s, expire_time, currency, customer_tier
    FROM made
), cart AS (
    SELECT c.hold_id, c.sku, c.quantity, c.unit_price_minor, m.request_id
    FROM jsonb_to_recordset(%(lines)s::jsonb)
         AS c(hold_id uuid, sku text, quantity bigint, unit_price_minor bigint)
    JOIN made m ON m.hold_id = c.hold_id
), lines AS (
    INSERT INTO hold_lines (hold_id, sku, quantity, unit_price_minor)
    SELECT hold_id, sku, quantity, unit_price_minor FROM cart
), ledger AS (
    INSERT INTO stock_ledger (sku, delta_on_hand, delta_reserved, reason, hold_id, request_id)
    SELECT sku, 0, quantity, 'HOLD', hold_id, request_id FROM cart
), reserved AS (
    UPDATE stock s SET reserved = s.reserved + t.quantity, update_time = now()
    FROM (SELECT sku, sum(quantity)::bigint AS quantity FROM cart GROUP BY sku) t
    -- The array lets the planner find the rows by key instead of scanning all of stock.
    WHERE s.sku = t.sku AND s.sku = ANY(%(skus)s::text[])
)
SELECT request_id FROM keys;

-- name: get_hold
-- An ACTIVE hold past its expire_time reads as EXPIRED whether or not it has
-- been reclaimed yet.
SELECT h.id::text, h.owner_id,
       CASE WHEN h.state = 'ACTIVE' AND h.expire_time <= now() THEN 'EXPIRED' ELSE h.state END
           AS state,
       h.create_time, h.expire_time,
       CASE WHEN h.state = 'ACTIVE' AND h.expire_time <= now() THEN h.expire_time
            ELSE h.end_time END AS end_time,
       h.currency, h.customer_tier,
       array_agg(l.sku ORDER BY l.sku) AS skus,
       array_agg(l.quantity ORDER BY l.sku) AS quantities,
       array_agg(l.unit_price_minor ORDER BY l.sku) AS unit_prices,
       now() AS now
FROM holds h JOIN hold_lines l ON l.hold_id = h.id
WHERE h.id = %(id)s
GROUP BY h.id;

-- name: list_holds
WITH page AS (
    SELECT h.id, h.owner_id, h.state, h.create_time, h.expire_time, h.end_time, h.currency,
           h.customer_tier,
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
       p.currency, p.customer_tier,
       array_agg(l.sku ORDER BY l.sku) AS skus,
       array_agg(l.quantity ORDER BY l.sku) AS quantities,
       array_agg(l.unit_price_minor ORDER BY l.sku) AS unit_prices,
       now() AS now
FROM page p JOIN hold_lines l ON l.hold_id = p.id
WHERE %(state)s::text IS NULL OR p.effective_state = %(state)s::text
GROUP BY p.id, p.owner_id, p.effective_state, p.state, p.create_time, p.expire_time, p.end_time,
         p.currency, p.customer_tier
ORDER BY p.id
LIMIT %(limit)s;

-- name: lock_hold
SELECT state, expire_time, create_time, now() AS now FROM holds WHERE id = %(id)s FOR UPDATE;

-- name: finish_hold
-- Moves an ACTIVE hold to a terminal state: one ledger row per line, and
-- reserved (and for COMMIT, on_hand) lowered by the held quantities.
WITH finished AS (
    UPDATE holds SET state = %(state)s, end_time = now()
    WHERE id = %(id)s AND state = 'ACTIVE'
    RETURNING id
), lines AS (
    SELECT l.sku, l.quantity FROM hold_lines l JOIN finished f ON f.id = l.hold_id
), ledger AS (
    INSERT INTO stock_ledger (sku, delta_on_hand, delta_reserved, reason, hold_id, request_id)
    SELECT sku, CASE WHEN %(state)s = 'COMMITTED' THEN -quantity ELSE 0 END, -quantity,
           %(reason)s, %(id)s, %(request_id)s
    FROM lines
)
UPDATE stock s
SET reserved = s.reserved - lines.quantity,
    on_hand = s.on_hand - CASE WHEN %(state)s = 'COMMITTED' THEN lines.quantity ELSE 0 END,
    update_time = now()
FROM lines
WHERE s.sku = lines.sku
RETURNING now() AS end_time;

-- name: extend_hold
UPDATE holds SET expire_time = %(expire_time)s
WHERE id = %(id)s AND state = 'ACTIVE';

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

-- name: extend_hold
UPDATE holds SET expire_time = %(expire_time)s
WHERE id = %(id)s AND state = 'ACTIVE';

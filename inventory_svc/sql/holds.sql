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
       array_agg((SELECT jsonb_agg(jsonb_build_array(a.location, a.quantity, a.backordered, a.preordered)
                                    ORDER BY a.location)
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
       array_agg((SELECT jsonb_agg(jsonb_build_array(a.location, a.quantity, a.backordered, a.preordered)
                                    ORDER BY a.location)
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

-- name: promise_times
-- For each line of an ACTIVE hold with units sold beyond stock: the earliest expected_time of
-- the open receipts at each of its locations that, in expected order, cover those units after
-- what is owed there and what ACTIVE holds made before it (uuid7 ids sort by time) hold
-- beyond stock there; the line's promise is the latest of its locations', NULL when any is
-- not covered.
WITH mine AS (
    SELECT a.sku, a.location, a.backordered + a.preordered AS units
    FROM hold_allocations a JOIN holds h ON h.id = a.hold_id
    WHERE a.hold_id = %(id)s AND h.state = 'ACTIVE' AND a.backordered + a.preordered > 0
), need AS (
    SELECT m.sku, m.location,
           m.units + s.owed + COALESCE((
               SELECT sum(o.backordered + o.preordered)
               FROM hold_allocations o JOIN holds oh ON oh.id = o.hold_id
               WHERE oh.state = 'ACTIVE' AND oh.expire_time > now() AND o.sku = m.sku
                 AND o.location = m.location AND o.hold_id < %(id)s::uuid), 0) AS needed
    FROM mine m JOIN stock s ON s.sku = m.sku AND s.location = m.location
), covering AS (
    SELECT n.sku, n.location, n.needed, r.expected_time,
           sum(r.expected - r.received) OVER (PARTITION BY n.sku, n.location
                                              ORDER BY r.expected_time, r.id) AS cumulative
    FROM need n JOIN receipts r ON r.sku = n.sku AND r.location = n.location AND r.state = 'OPEN'
), per_location AS (
    SELECT n.sku, (SELECT min(c.expected_time) FROM covering c
                   WHERE c.sku = n.sku AND c.location = n.location AND c.cumulative >= n.needed)
                  AS promise
    FROM need n
)
SELECT sku, CASE WHEN bool_and(promise IS NOT NULL) THEN max(promise) END AS promise_time
FROM per_location GROUP BY sku;

-- Locations and channels. A reference (ref) is a code or an id; a ref that is both one
-- location's code and another's id names the one with that code.

-- name: insert_location
INSERT INTO locations (id, code, name, active)
VALUES (%(id)s, %(code)s, %(name)s, %(active)s)
RETURNING id::text, code, name, active, create_time;

-- name: get_location
SELECT id::text, code, name, active, create_time
FROM locations
WHERE code = %(ref)s OR id::text = lower(%(ref)s)
ORDER BY code = %(ref)s DESC
LIMIT 1;

-- name: list_locations
SELECT id::text, code, name, active, create_time
FROM locations
WHERE %(after)s::text IS NULL OR code > %(after)s
ORDER BY code
LIMIT %(limit)s;

-- name: update_location
UPDATE locations
SET name = COALESCE(%(name)s, name), active = COALESCE(%(active)s, active)
WHERE id = %(id)s
RETURNING id::text, code, name, active, create_time;

-- name: missing_location
-- The first of `codes` that names no location, and its index; no row when all exist.
SELECT t.ord - 1 AS index, t.code
FROM unnest(%(codes)s::text[]) WITH ORDINALITY AS t(code, ord)
WHERE NOT EXISTS (SELECT 1 FROM locations l WHERE l.code = t.code)
ORDER BY t.ord
LIMIT 1;

-- name: insert_channel
INSERT INTO channels (id, code, name, strategy)
VALUES (%(id)s, %(code)s, %(name)s, %(strategy)s);

-- name: insert_channel_locations
-- The channel's locations in the order given: position 0 is tried first.
INSERT INTO channel_locations (channel_id, position, location)
SELECT %(channel_id)s, t.ord - 1, t.code
FROM unnest(%(codes)s::text[]) WITH ORDINALITY AS t(code, ord);

-- name: delete_channel_locations
DELETE FROM channel_locations WHERE channel_id = %(channel_id)s;

-- name: get_channel
SELECT c.id::text, c.code, c.name, c.strategy, c.create_time,
       array(SELECT cl.location::text FROM channel_locations cl
             WHERE cl.channel_id = c.id ORDER BY cl.position) AS location_codes
FROM channels c
WHERE c.code = %(ref)s OR c.id::text = lower(%(ref)s)
ORDER BY c.code = %(ref)s DESC
LIMIT 1;

-- name: lock_channel
-- The channel an update names, locked so concurrent updates of its locations take turns.
SELECT id::text, code
FROM channels
WHERE code = %(ref)s OR id::text = lower(%(ref)s)
ORDER BY code = %(ref)s DESC
LIMIT 1
FOR UPDATE;

-- name: list_channels
SELECT c.id::text, c.code, c.name, c.strategy, c.create_time,
       array(SELECT cl.location::text FROM channel_locations cl
             WHERE cl.channel_id = c.id ORDER BY cl.position) AS location_codes
FROM channels c
WHERE %(after)s::text IS NULL OR c.code > %(after)s
ORDER BY c.code
LIMIT %(limit)s;

-- name: update_channel
UPDATE channels
SET name = COALESCE(%(name)s, name), strategy = COALESCE(%(strategy)s, strategy)
WHERE id = %(id)s;

-- name: resolve_channels
-- Per ref found (an empty ref is channel `default`): the channel's code, strategy and its
-- ACTIVE locations' codes in priority order.
SELECT DISTINCT ON (r.ref) r.ref, c.code::text, c.strategy,
       array(SELECT cl.location::text
             FROM channel_locations cl JOIN locations l ON l.code = cl.location
             WHERE cl.channel_id = c.id AND l.active
             ORDER BY cl.position) AS locations
FROM unnest(%(refs)s::text[]) AS r(ref)
JOIN channels c ON c.code = COALESCE(NULLIF(r.ref, ''), 'default')
                OR c.id::text = lower(r.ref)
ORDER BY r.ref, c.code = COALESCE(NULLIF(r.ref, ''), 'default') DESC;

-- name: resolve_locations
-- Per ref found: the location's code and whether it is active.
SELECT DISTINCT ON (r.ref) r.ref, l.code::text, l.active
FROM unnest(%(refs)s::text[]) AS r(ref)
JOIN locations l ON l.code = r.ref OR l.id::text = lower(r.ref)
ORDER BY r.ref, l.code = r.ref DESC;

-- Catalog import (inventory_svc/catalog_import.py) and export (inventory_svc/catalog_export.py).
-- An import writes a chunk's rows of one kind in one statement: they travel as one JSON
-- document (jsonb_to_recordset), and each upsert changes a row only where a value differs
-- (ON CONFLICT ... DO UPDATE ... WHERE old IS DISTINCT FROM new), so importing the same rows
-- again writes nothing. An upsert returns the rows it created (xmax = 0: no earlier version)
-- or updated; a row it does not return was already as imported. Rows go in key order, so
-- two imports of the same keys take their row locks in the same order.

-- name: import_locations
INSERT INTO locations AS l (id, code, name, active)
SELECT t.id, t.code, t.name, t.active
FROM jsonb_to_recordset(%(rows)s::jsonb) AS t(id uuid, code text, name text, active boolean)
ORDER BY t.code
ON CONFLICT (code) DO UPDATE SET name = excluded.name, active = excluded.active
WHERE (l.name, l.active) IS DISTINCT FROM (excluded.name, excluded.active)
RETURNING l.code::text AS key, l.xmax = 0 AS created;

-- name: resolve_category_paths
-- The category at the end of each path (names from the top down), walked one level at a
-- time along the sibling-name index; a path with a missing level is left out of the answer.
WITH RECURSIVE wanted AS (
    SELECT t.key, t.path FROM jsonb_to_recordset(%(paths)s::jsonb) AS t(key int, path text[])
), walk (key, depth, id) AS (
    SELECT w.key, 0, '00000000-0000-0000-0000-000000000000'::uuid FROM wanted w
    UNION ALL
    SELECT k.key, k.depth + 1, c.id
    FROM walk k
    JOIN wanted w ON w.key = k.key
    JOIN categories c
      ON COALESCE(c.parent_id, '00000000-0000-0000-0000-000000000000'::uuid) = k.id
     AND c.name = w.path[k.depth + 1]
    WHERE k.depth < cardinality(w.path)
)
SELECT k.key, k.id::text
FROM walk k JOIN wanted w ON w.key = k.key
WHERE k.depth = cardinality(w.path) AND k.depth > 0;

-- name: import_categories
-- Categories whose parent is known: created, or already there (a category has nothing but
-- its place and name to update). Returns the ids of those created.
INSERT INTO categories (id, name, parent_id)
SELECT t.id, t.name, t.parent_id
FROM jsonb_to_recordset(%(rows)s::jsonb) AS t(id uuid, name text, parent_id uuid)
ORDER BY t.parent_id NULLS FIRST, t.name
ON CONFLICT DO NOTHING
RETURNING id::text AS key, true AS created;

-- name: import_products
INSERT INTO products AS p (id, handle, title, description, category_id, base_price_minor, currency)
SELECT t.id, t.handle, t.title, t.description, t.category_id, t.base_price_minor, t.currency
FROM jsonb_to_recordset(%(rows)s::jsonb)
     AS t(id uuid, handle text, title text, description text, category_id uuid,
          base_price_minor bigint, currency text)
ORDER BY t.handle
ON CONFLICT (handle) DO UPDATE
SET title = excluded.title, description = excluded.description, category_id = excluded.category_id,
    base_price_minor = excluded.base_price_minor, currency = excluded.currency
WHERE (p.title, p.description, p.category_id, p.base_price_minor, p.currency)
      IS DISTINCT FROM
      (excluded.title, excluded.description, excluded.category_id, excluded.base_price_minor,
       excluded.currency)
RETURNING p.handle::text AS key, p.xmax = 0 AS created;

-- name: products_by_handle
SELECT handle::text, id::text, currency FROM products WHERE handle = ANY(%(handles)s::text[]);

-- name: import_variants
-- A new variant gets its empty stock row at `default`, as CreateVariant makes it, and no
-- ledger row: nothing was received.
WITH upserted AS (
    INSERT INTO variants AS v (id, product_id, sku, price_adjustment_minor)
    SELECT t.id, t.product_id, t.sku, t.price_adjustment_minor
    FROM jsonb_to_recordset(%(rows)s::jsonb)
         AS t(id uuid, product_id uuid, sku text, price_adjustment_minor bigint)
    ORDER BY t.sku
    ON CONFLICT (sku) DO UPDATE
    SET product_id = excluded.product_id, price_adjustment_minor = excluded.price_adjustment_minor
    WHERE (v.product_id, v.price_adjustment_minor)
          IS DISTINCT FROM (excluded.product_id, excluded.price_adjustment_minor)
    RETURNING v.sku, v.xmax = 0 AS created
), stock_rows AS (
    INSERT INTO stock (sku, location, on_hand, reserved)
    SELECT sku, 'default', 0, 0 FROM upserted WHERE created
)
SELECT sku::text AS key, created FROM upserted;

-- name: begin_export
-- The first statement of an export's transaction: every query after it reads one snapshot.
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY;

-- name: export_locations
SELECT code::text, name, active FROM locations ORDER BY code;

-- name: export_categories
-- Every category with its path of names; a parent's path is a prefix of its children's, so
-- ordered by path, parents come first.
WITH RECURSIVE tree (id, path) AS (
    SELECT id, ARRAY[name] FROM categories WHERE parent_id IS NULL
    UNION ALL
    SELECT c.id, t.path || c.name FROM categories c JOIN tree t ON c.parent_id = t.id
)
SELECT path FROM tree ORDER BY path;

-- name: export_products
WITH RECURSIVE tree (id, path) AS (
    SELECT id, ARRAY[name] FROM categories WHERE parent_id IS NULL
    UNION ALL
    SELECT c.id, t.path || c.name FROM categories c JOIN tree t ON c.parent_id = t.id
)
SELECT p.handle::text, p.title, p.description, COALESCE(t.path, '{}') AS category_path,
       p.base_price_minor, p.currency
FROM products p LEFT JOIN tree t ON t.id = p.category_id
ORDER BY p.handle;

-- name: export_variants
SELECT v.sku::text, p.handle::text AS product_handle, v.price_adjustment_minor, p.currency
FROM variants v JOIN products p ON p.id = v.product_id
ORDER BY v.sku;

-- name: export_stock
SELECT sku::text, location::text, on_hand FROM stock ORDER BY sku, location;

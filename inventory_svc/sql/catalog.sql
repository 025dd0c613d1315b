-- name: insert_category
INSERT INTO categories (id, name, parent_id)
VALUES (%(id)s, %(name)s, %(parent_id)s)
RETURNING id::text, name, parent_id::text, create_time;

-- name: list_categories
SELECT id::text, name, parent_id::text, create_time
FROM categories
WHERE %(after)s::uuid IS NULL OR id > %(after)s::uuid
ORDER BY id
LIMIT %(limit)s;

-- name: category_exists
SELECT 1 FROM categories WHERE id = %(id)s;

-- name: insert_product
INSERT INTO products (id, handle, title, description, category_id, base_price_minor, currency)
VALUES (%(id)s, %(handle)s, %(title)s, %(description)s, %(category_id)s, %(base_price_minor)s,
        %(currency)s)
RETURNING id::text, handle, title, description, category_id::text, base_price_minor, currency,
          create_time;

-- name: get_product
SELECT id::text, handle, title, description, category_id::text, base_price_minor, currency, create_time
FROM products
WHERE id = %(id)s;

-- name: list_products
-- A category filter covers the category and every descendant.
WITH RECURSIVE tree AS (
    SELECT id FROM categories WHERE id = %(category_id)s::uuid
    UNION ALL
    SELECT c.id FROM categories c JOIN tree t ON c.parent_id = t.id
)
SELECT p.id::text, p.handle, p.title, p.description, p.category_id::text, p.base_price_minor,
       p.currency, p.create_time
FROM products p
WHERE (%(category_id)s::uuid IS NULL OR p.category_id IN (SELECT id FROM tree))
  AND (%(after)s::uuid IS NULL OR p.id > %(after)s::uuid)
ORDER BY p.id
LIMIT %(limit)s;

-- name: insert_variant
-- The variant, its stock row at location `default` and (for initial stock) a RECEIVE ledger
-- row, in one statement.
WITH variant AS (
    INSERT INTO variants (id, product_id, sku, price_adjustment_minor)
    VALUES (%(id)s, %(product_id)s, %(sku)s, %(price_adjustment_minor)s)
    RETURNING id, product_id, sku, price_adjustment_minor, create_time
), stock_row AS (
    INSERT INTO stock (sku, location, on_hand, reserved)
    SELECT sku, 'default', %(on_hand)s, 0 FROM variant
    RETURNING sku, location, on_hand, reserved
), receipt AS (
    INSERT INTO stock_ledger (sku, location, delta_on_hand, delta_reserved, reason, request_id, note)
    SELECT sku, location, on_hand, 0, 'RECEIVE', %(request_id)s, 'initial stock'
    FROM stock_row WHERE on_hand > 0
)
SELECT v.id::text, v.product_id::text, v.sku, v.price_adjustment_minor, v.create_time,
       s.location, s.on_hand, s.reserved
FROM variant v, stock_row s;

-- name: get_variant_by_id
SELECT v.id::text, v.product_id::text, v.sku, v.price_adjustment_minor, v.create_time,
       p.currency
FROM variants v JOIN products p ON p.id = v.product_id
WHERE v.id = %(id)s;

-- name: get_variant_by_sku
SELECT v.id::text, v.product_id::text, v.sku, v.price_adjustment_minor, v.create_time,
       p.currency
FROM variants v JOIN products p ON p.id = v.product_id
WHERE v.sku = %(sku)s;

-- name: product_currency
SELECT currency FROM products WHERE id = %(id)s;

-- name: list_variants
SELECT v.id::text, v.product_id::text, v.sku, v.price_adjustment_minor, v.create_time,
       p.currency
FROM variants v JOIN products p ON p.id = v.product_id
WHERE v.product_id = %(product_id)s
  AND (%(after)s::uuid IS NULL OR v.id > %(after)s::uuid)
ORDER BY v.id
LIMIT %(limit)s;

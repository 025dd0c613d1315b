-- name: insert_rule
INSERT INTO price_rules (id, name, stage, percent_off_bp, amount_off_minor, currency, start_time, end_time,
                         min_quantity, customer_tier, scope_category_id, scope_product_id, scope_sku,
                         priority, active)
VALUES (%(id)s, %(name)s, %(stage)s, %(percent_off_bp)s, %(amount_off_minor)s, %(currency)s,
        %(start_time)s, %(end_time)s, %(min_quantity)s, %(customer_tier)s, %(scope_category_id)s,
        %(scope_product_id)s, %(scope_sku)s, %(priority)s, %(active)s)
RETURNING *;

-- name: get_rule
SELECT *
FROM price_rules WHERE id = %(id)s;

-- name: lock_rule
SELECT *
FROM price_rules WHERE id = %(id)s
FOR UPDATE;

-- name: list_rules
SELECT *
FROM price_rules
WHERE %(after)s::uuid IS NULL OR id > %(after)s::uuid
ORDER BY id
LIMIT %(limit)s;

-- name: update_rule
UPDATE price_rules
SET name = %(name)s, stage = %(stage)s, percent_off_bp = %(percent_off_bp)s,
    amount_off_minor = %(amount_off_minor)s, currency = %(currency)s, start_time = %(start_time)s,
    end_time = %(end_time)s, min_quantity = %(min_quantity)s, customer_tier = %(customer_tier)s,
    scope_category_id = %(scope_category_id)s, scope_product_id = %(scope_product_id)s,
    scope_sku = %(scope_sku)s, priority = %(priority)s, active = %(active)s, update_time = now()
WHERE id = %(id)s
RETURNING *;

-- name: delete_rule
DELETE FROM price_rules WHERE id = %(id)s RETURNING id;

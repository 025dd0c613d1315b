-- name: sku_pricing
-- Each requested SKU's base price, variant adjustment, product and every
-- category from the product's own up to the root (rules on a category reach
-- its sub-categories), and the instant the quote is priced at.
WITH RECURSIVE wanted AS (
    SELECT v.sku, v.product_id, v.price_adjustment_minor, p.base_price_minor, p.currency, p.category_id
    FROM variants v JOIN products p ON p.id = v.product_id
    WHERE v.sku = ANY(%(skus)s::text[])
), ancestry AS (
    SELECT w.sku, w.category_id AS id FROM wanted w WHERE w.category_id IS NOT NULL
    UNION
    SELECT a.sku, c.parent_id FROM ancestry a JOIN categories c ON c.id = a.id
    WHERE c.parent_id IS NOT NULL
)
SELECT w.sku, w.product_id::text AS product_id, w.base_price_minor, w.price_adjustment_minor, w.currency,
       COALESCE(array_agg(a.id::text) FILTER (WHERE a.id IS NOT NULL), '{}') AS category_ids,
       COALESCE(%(at)s::timestamptz, now()) AS price_time
FROM wanted w LEFT JOIN ancestry a ON a.sku = w.sku
GROUP BY w.sku, w.product_id, w.base_price_minor, w.price_adjustment_minor, w.currency;

-- name: rules_for_quote
-- Active rules that can reach these SKUs at this instant for these tiers; the
-- engine makes the final choice, so this only has to leave nothing out.
SELECT *
FROM price_rules
WHERE active
  AND (num_nonnulls(scope_category_id, scope_product_id, scope_sku) = 0
       OR scope_sku = ANY(%(skus)s::text[])
       OR scope_product_id = ANY(%(product_ids)s::uuid[])
       OR scope_category_id = ANY(%(category_ids)s::uuid[]))
  AND (stage <> 'SEASONAL' OR (start_time <= %(at)s AND %(at)s < end_time))
  AND (stage <> 'TIER' OR customer_tier = ANY(%(customer_tiers)s::text[]));

-- depends: 0001.initial-schema
-- Price rules (pricing_svc) and the prices a priced hold locked (inventory_svc).

CREATE TABLE price_rules (
    id               uuid PRIMARY KEY,
    name             text NOT NULL,
    stage            text NOT NULL CHECK (stage IN ('SEASONAL', 'BULK', 'TIER')),
    percent_off_bp   integer CHECK (percent_off_bp BETWEEN 1 AND 10000),
    amount_off_minor bigint CHECK (amount_off_minor > 0),
    currency         text NOT NULL,
    start_time       timestamptz,
    end_time         timestamptz,
    min_quantity     bigint,
    customer_tier    text,
    -- One scope column at most is set; none means every SKU. Foreign keys keep
    -- a rule from naming a category, product or SKU that does not exist.
    scope_category_id uuid REFERENCES categories (id),
    scope_product_id  uuid REFERENCES products (id),
    scope_sku         text COLLATE "C" REFERENCES variants (sku),
    priority         integer NOT NULL DEFAULT 0,
    active           boolean NOT NULL DEFAULT true,
    create_time      timestamptz NOT NULL DEFAULT now(),
    update_time      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT price_rules_one_discount CHECK ((percent_off_bp IS NULL) <> (amount_off_minor IS NULL)),
    CONSTRAINT price_rules_at_most_one_scope CHECK (
        num_nonnulls(scope_category_id, scope_product_id, scope_sku) <= 1),
    CONSTRAINT price_rules_seasonal_window CHECK (
        (stage = 'SEASONAL') = (start_time IS NOT NULL AND end_time IS NOT NULL)
        AND (start_time IS NULL OR start_time < end_time)),
    CONSTRAINT price_rules_bulk_threshold CHECK (
        (stage = 'BULK') = (min_quantity IS NOT NULL) AND (min_quantity IS NULL OR min_quantity >= 2)),
    CONSTRAINT price_rules_tier CHECK ((stage = 'TIER') = (customer_tier IS NOT NULL))
);
CREATE INDEX price_rules_category_idx ON price_rules (scope_category_id) WHERE scope_category_id IS NOT NULL;
CREATE INDEX price_rules_product_idx ON price_rules (scope_product_id) WHERE scope_product_id IS NOT NULL;
CREATE INDEX price_rules_sku_idx ON price_rules (scope_sku) WHERE scope_sku IS NOT NULL;

-- A priced hold keeps its currency and tier, and each line the unit price
-- quoted when it was created; unpriced holds leave them NULL.
ALTER TABLE holds ADD COLUMN currency text;
ALTER TABLE holds ADD COLUMN customer_tier text;
ALTER TABLE hold_lines ADD COLUMN unit_price_minor bigint CHECK (unit_price_minor >= 0);

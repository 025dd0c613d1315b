ALTER TABLE hold_lines DROP COLUMN IF EXISTS unit_price_minor;
ALTER TABLE holds DROP COLUMN IF EXISTS customer_tier;
ALTER TABLE holds DROP COLUMN IF EXISTS currency;
DROP TABLE IF EXISTS price_rules;

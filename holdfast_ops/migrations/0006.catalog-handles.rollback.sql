DROP TRIGGER IF EXISTS products_default_handle ON products;
DROP FUNCTION IF EXISTS products_default_handle();
ALTER TABLE products DROP COLUMN IF EXISTS handle;

-- depends: 0005.locations-and-channels
-- Products get a handle: their natural key in catalog files (ImportCatalog, ExportCatalog),
-- unique, in the SKU character set and compared byte-wise like SKUs. Products made before
-- handles existed take their id as handle, so every product has one and none collide (an
-- id is never a handle someone chose later: CreateProduct and ImportCatalog refuse a handle
-- already taken).
ALTER TABLE products ADD COLUMN handle text COLLATE "C";
UPDATE products SET handle = id::text;
ALTER TABLE products ALTER COLUMN handle SET NOT NULL;
ALTER TABLE products ADD CONSTRAINT products_handle_key UNIQUE (handle);

-- A writer that knows nothing of handles (the release before this one during a rolling
-- upgrade, a seed script) still makes products: one inserted without a handle gets its id,
-- as the backfill above gave every existing product.
CREATE FUNCTION products_default_handle() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.handle := COALESCE(NEW.handle, NEW.id::text);
    RETURN NEW;
END;
$$;
CREATE TRIGGER products_default_handle
    BEFORE INSERT ON products
    FOR EACH ROW EXECUTE FUNCTION products_default_handle();

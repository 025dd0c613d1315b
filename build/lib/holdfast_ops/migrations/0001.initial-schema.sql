-- Catalog, stock, holds, the append-only stock ledger and idempotency records.
-- SKUs compare with the "C" collation so every process locks stock rows in the
-- same byte order, whatever the database's default collation.

CREATE TABLE categories (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    parent_id   uuid REFERENCES categories (id),
    create_time timestamptz NOT NULL DEFAULT now()
);
-- Names are unique among siblings; top-level categories share the nil parent.
CREATE UNIQUE INDEX categories_sibling_name_uq
    ON categories (COALESCE(parent_id, '00000000-0000-0000-0000-000000000000'::uuid), name);
CREATE INDEX categories_parent_idx ON categories (parent_id);

CREATE TABLE products (
    id               uuid PRIMARY KEY,
    title            text NOT NULL,
    description      text NOT NULL DEFAULT '',
    category_id      uuid REFERENCES categories (id),
    base_price_minor bigint NOT NULL CHECK (base_price_minor >= 0),
    currency         text NOT NULL,
    create_time      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX products_category_idx ON products (category_id, id);

CREATE TABLE variants (
    id                     uuid PRIMARY KEY,
    product_id             uuid NOT NULL REFERENCES products (id),
    sku                    text COLLATE "C" NOT NULL UNIQUE,
    price_adjustment_minor bigint NOT NULL DEFAULT 0,
    create_time            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX variants_product_idx ON variants (product_id, id);

CREATE TABLE stock (
    sku         text COLLATE "C" PRIMARY KEY REFERENCES variants (sku),
    on_hand     bigint NOT NULL,
    reserved    bigint NOT NULL DEFAULT 0,
    update_time timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT stock_reserved_within_on_hand CHECK (0 <= reserved AND reserved <= on_hand)
);

CREATE TABLE holds (
    id          uuid PRIMARY KEY,
    owner_id    text NOT NULL,
    state       text NOT NULL DEFAULT 'ACTIVE'
                CHECK (state IN ('ACTIVE', 'COMMITTED', 'RELEASED', 'EXPIRED')),
    create_time timestamptz NOT NULL,
    expire_time timestamptz NOT NULL,
    end_time    timestamptz,
    CONSTRAINT holds_end_time_iff_terminal CHECK ((state = 'ACTIVE') = (end_time IS NULL))
);
CREATE INDEX holds_owner_idx ON holds (owner_id, id);
-- The sweeper and the reserve path look for overdue ACTIVE holds only.
CREATE INDEX holds_active_expire_idx ON holds (expire_time) WHERE state = 'ACTIVE';

CREATE TABLE hold_lines (
    hold_id  uuid NOT NULL REFERENCES holds (id),
    sku      text COLLATE "C" NOT NULL REFERENCES stock (sku),
    quantity bigint NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (hold_id, sku)
);
CREATE INDEX hold_lines_sku_idx ON hold_lines (sku, hold_id);

CREATE TABLE stock_ledger (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku            text COLLATE "C" NOT NULL REFERENCES stock (sku),
    delta_on_hand  bigint NOT NULL,
    delta_reserved bigint NOT NULL,
    reason         text NOT NULL
                   CHECK (reason IN ('RECEIVE', 'ADJUST', 'HOLD', 'RELEASE', 'EXPIRE', 'COMMIT')),
    hold_id        uuid REFERENCES holds (id),
    request_id     text,
    note           text NOT NULL DEFAULT '',
    create_time    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT stock_ledger_hold_reasons_have_hold
        CHECK ((reason IN ('RECEIVE', 'ADJUST')) = (hold_id IS NULL))
);
CREATE INDEX stock_ledger_sku_idx ON stock_ledger (sku, id);
CREATE INDEX stock_ledger_hold_idx ON stock_ledger (hold_id) WHERE hold_id IS NOT NULL;

-- The ledger is append-only: history is corrected by new rows, never rewritten.
CREATE FUNCTION stock_ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'stock_ledger is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER stock_ledger_append_only
    BEFORE UPDATE OR DELETE ON stock_ledger
    FOR EACH ROW EXECUTE FUNCTION stock_ledger_refuse_change();

CREATE TABLE idempotency_keys (
    request_id  text PRIMARY KEY,
    method      text NOT NULL,
    fingerprint bytea NOT NULL,
    -- Serialized response message; NULL only inside the claiming transaction.
    response    bytea,
    create_time timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idempotency_keys_create_time_idx ON idempotency_keys (create_time);

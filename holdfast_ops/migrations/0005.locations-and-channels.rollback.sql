-- Back to one pool per SKU: only possible while every SKU is kept at `default` alone
-- (the primary key on stock (sku) refuses anything else) and no TRANSFER row exists.
DROP INDEX IF EXISTS stock_ledger_stock_idx;
ALTER TABLE stock_ledger DROP CONSTRAINT stock_ledger_hold_reasons_have_hold;
ALTER TABLE stock_ledger ADD CONSTRAINT stock_ledger_hold_reasons_have_hold
    CHECK ((reason IN ('RECEIVE', 'ADJUST')) = (hold_id IS NULL));
ALTER TABLE stock_ledger DROP CONSTRAINT stock_ledger_reason_check;
ALTER TABLE stock_ledger ADD CONSTRAINT stock_ledger_reason_check
    CHECK (reason IN ('RECEIVE', 'ADJUST', 'HOLD', 'RELEASE', 'EXPIRE', 'COMMIT'));
ALTER TABLE stock_ledger DROP CONSTRAINT stock_ledger_stock_fkey;
ALTER TABLE stock_ledger DROP COLUMN location;
ALTER TABLE holds DROP COLUMN strategy;
ALTER TABLE holds DROP COLUMN channel;
DROP FUNCTION IF EXISTS expire_holds(uuid[]);
DROP TABLE hold_allocations;
ALTER TABLE hold_lines DROP COLUMN location;
ALTER TABLE hold_lines DROP CONSTRAINT hold_lines_sku_fkey;
ALTER TABLE stock DROP CONSTRAINT stock_pkey;
ALTER TABLE stock ADD PRIMARY KEY (sku);
ALTER TABLE stock DROP COLUMN location;
ALTER TABLE hold_lines ADD CONSTRAINT hold_lines_sku_fkey FOREIGN KEY (sku) REFERENCES stock (sku);
ALTER TABLE stock_ledger ADD CONSTRAINT stock_ledger_sku_fkey FOREIGN KEY (sku) REFERENCES stock (sku);
DROP TABLE channel_locations;
DROP TABLE channels;
DROP TABLE locations;

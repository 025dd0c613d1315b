DROP TRIGGER IF EXISTS stock_ledger_events ON stock_ledger;
DROP FUNCTION IF EXISTS stock_ledger_events();
DROP TABLE IF EXISTS stock_event_cursor;
DROP TABLE IF EXISTS stock_events;
ALTER TABLE stock DROP COLUMN IF EXISTS event_seq;

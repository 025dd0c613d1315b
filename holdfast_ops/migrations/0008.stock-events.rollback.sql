DROP TRIGGER IF EXISTS stock_ledger_events ON stock_ledger;
DROP FUNCTION IF EXISTS stock_ledger_events();
DROP TABLE IF EXISTS stock_event_cursor;
DROP TABLE IF EXISTS stock_events;
DROP TABLE IF EXISTS stock_thresholds;
ALTER TABLE stock DROP COLUMN IF EXISTS event_seq, DROP COLUMN IF EXISTS threshold_events;

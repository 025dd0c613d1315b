DROP TRIGGER IF EXISTS stock_ledger_events ON stock_ledger;
DROP FUNCTION IF EXISTS stock_ledger_events();
DROP TABLE IF EXISTS stock_event_cursor;
DROP TABLE IF EXISTS stock_event_keys;
DROP TABLE IF EXISTS stock_events;
DROP TABLE IF EXISTS stock_thresholds;

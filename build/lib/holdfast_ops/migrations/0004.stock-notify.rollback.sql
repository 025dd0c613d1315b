DROP TRIGGER IF EXISTS stock_levels_notify ON stock;
DROP FUNCTION IF EXISTS stock_levels_notify();

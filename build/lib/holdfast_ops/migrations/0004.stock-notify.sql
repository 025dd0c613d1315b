-- depends: 0003.sweeper-expiry-order
-- Every change of a SKU's on_hand or reserved is announced on the channel
-- stock_levels with the SKU as payload, so WatchStockLevels streams learn of it
-- without polling. A trigger, not application code: no path that updates stock
-- (reserve, release, commit, adjust, reclaim, the sweeper) can forget it.
-- NOTIFY is sent at commit (a rolled-back change announces nothing) and folded
-- per transaction and payload, so a batch touching a SKU many times announces
-- it once. Listeners re-read the levels: the payload stays tiny.
CREATE FUNCTION stock_levels_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('stock_levels', NEW.sku);
    RETURN NULL;
END;
$$;
CREATE TRIGGER stock_levels_notify
    AFTER UPDATE OF on_hand, reserved ON stock
    FOR EACH ROW
    WHEN (OLD.on_hand IS DISTINCT FROM NEW.on_hand OR OLD.reserved IS DISTINCT FROM NEW.reserved)
    EXECUTE FUNCTION stock_levels_notify();

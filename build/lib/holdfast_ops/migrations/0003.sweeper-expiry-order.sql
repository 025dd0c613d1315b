-- depends: 0001.initial-schema
-- The sweeper walks the overdue holds in (expire_time, id) order with a keyset
-- cursor, so holds it must skip (their stock rows locked by shoppers) never keep
-- it from the holds behind them. Lookups by expire_time alone use it as well.
CREATE INDEX holds_active_expire_id_idx ON holds (expire_time, id) WHERE state = 'ACTIVE';
DROP INDEX holds_active_expire_idx;

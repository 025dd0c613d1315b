CREATE INDEX holds_active_expire_idx ON holds (expire_time) WHERE state = 'ACTIVE';
DROP INDEX IF EXISTS holds_active_expire_id_idx;

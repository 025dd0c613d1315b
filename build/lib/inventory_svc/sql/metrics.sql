-- name: count_active_holds
-- The partial index on ACTIVE holds answers both counts; terminal holds are left out
-- because counting them reads a table that only grows (their rates are in the call
-- and sweeper counters).
SELECT count(*) AS active, count(*) FILTER (WHERE expire_time <= now()) AS overdue
FROM holds WHERE state = 'ACTIVE';

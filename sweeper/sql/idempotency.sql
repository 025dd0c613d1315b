-- name: purge_idempotency_keys
-- Deletes up to batch_size records older than the retention, oldest first;
-- rows another transaction has locked are left for the next batch.
WITH doomed AS (
    SELECT request_id
    FROM idempotency_keys
    WHERE create_time < now() - make_interval(secs => %(retention_seconds)s)
    ORDER BY create_time
    LIMIT %(batch_size)s
    FOR UPDATE SKIP LOCKED
)
DELETE FROM idempotency_keys k
USING doomed d
WHERE k.request_id = d.request_id;

-- name: expire_overdue_batch
-- Expires up to batch_size overdue ACTIVE holds of one partition, found among
-- the next batch_size x partitions after the cursor (expire_time, id), in one
-- statement that never waits on a lock.
--
-- The partition (the last hex digit of the hold id, modulo the partitions) is
-- claimed with a transaction-scoped advisory lock, so concurrent runs walk
-- disjoint holds instead of fighting over the same ones; a claim that fails
-- does nothing and reports claimed = false.
--
-- Locks are taken in the order every path uses: stock rows first, in ascending
-- (SKU, location) order, then holds. Stock rows another transaction holds are skipped, and
-- so are the holds on them (a reserve holding them reclaims those holds itself;
-- the run walks again over the rest). A hold is locked only once all its stock
-- rows are, so the sweeper never holds a hold that a reserve would want to
-- reclaim, nor one a CommitHold would wait for. The state and expire_time
-- checks on the locked row are the guard that lets a hold expire only once.
--
-- Joins between CTEs go through hashed subplans or indexes: their row estimates
-- are often far off (all of a backlog may share one expire_time), and a nested
-- loop over two 500-row CTEs costs more than the whole batch.
WITH claim AS (
    SELECT pg_try_advisory_xact_lock(%(lock_class)s, %(partition)s) AS ours
), ahead AS (
    -- The next overdue holds of every partition: a plain range scan of the index,
    -- which the planner estimates well (a filter on the partition it cannot, and
    -- then it may sort the whole table instead).
    SELECT h.id, h.expire_time
    FROM holds h
    WHERE (SELECT ours FROM claim)
      AND h.state = 'ACTIVE' AND h.expire_time <= now()
      AND (h.expire_time, h.id) > (%(after_time)s::timestamptz, %(after_id)s::uuid)
    ORDER BY h.expire_time, h.id
    LIMIT %(batch_size)s * %(partitions)s
), candidates AS (
    SELECT id, expire_time
    FROM ahead
    WHERE (strpos('0123456789abcdef', right(id::text, 1)) - 1) %% %(partitions)s = %(partition)s
    ORDER BY expire_time, id
    LIMIT %(batch_size)s
), candidate_allocations AS (
    SELECT a.hold_id, a.sku, a.location FROM candidates c JOIN hold_allocations a ON a.hold_id = c.id
), locked_stock AS (
    SELECT s.sku, s.location
    FROM stock s
    WHERE (s.sku, s.location) IN (SELECT sku, location FROM candidate_allocations)
    ORDER BY s.sku, s.location
    FOR UPDATE OF s SKIP LOCKED
), locked_holds AS (
    SELECT h.id
    FROM candidates c JOIN holds h ON h.id = c.id
    WHERE h.state = 'ACTIVE' AND h.expire_time <= now()
      AND c.id NOT IN (SELECT a.hold_id FROM candidate_allocations a
                       WHERE (a.sku, a.location) NOT IN (SELECT sku, location FROM locked_stock))
    ORDER BY h.id
    FOR UPDATE OF h SKIP LOCKED
), released AS (
    -- The expiry transition itself, the same the reserve path's reclaim_overdue_holds runs.
    SELECT * FROM expire_holds(ARRAY(SELECT id FROM locked_holds))
), seen AS (
    -- Where the next batch starts: after the last hold taken if the batch is full,
    -- else after every hold looked at.
    SELECT expire_time, id
    FROM candidates
    WHERE (SELECT count(*) FROM candidates) = %(batch_size)s
    UNION ALL
    SELECT expire_time, id
    FROM ahead
    WHERE (SELECT count(*) FROM candidates) < %(batch_size)s
)
SELECT (SELECT ours FROM claim) AS claimed,
       (SELECT count(*) FROM candidates) AS taken,
       -- Every locked hold is ACTIVE and overdue (checked under its lock), so each expires;
       -- counting the released stock rows makes the expiry run (a CTE nobody reads would not).
       (SELECT count(*) FROM locked_holds WHERE (SELECT count(*) FROM released) >= 0) AS expired,
       -- A full batch, or a full look ahead, may have more behind it.
       (SELECT count(*) FROM candidates) = %(batch_size)s
           OR (SELECT count(*) FROM ahead) = %(batch_size)s * %(partitions)s AS more,
       (SELECT expire_time FROM seen ORDER BY expire_time DESC, id DESC LIMIT 1) AS last_expire_time,
       (SELECT id FROM seen ORDER BY expire_time DESC, id DESC LIMIT 1) AS last_id;

-- name: oldest_overdue_age
-- Seconds the oldest ACTIVE hold has been past its expire_time (0: none).
SELECT COALESCE(extract(epoch FROM now() - min(expire_time)), 0)::float8 AS seconds
FROM holds
WHERE state = 'ACTIVE' AND expire_time <= now();

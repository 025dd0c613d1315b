"""The sweep: overdue holds expired and old idempotency records purged, in bounded batches.

Plain functions over a psycopg pool; they know nothing of the queue that triggers them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

import psycopg_pool

from sweeper import metrics
from sweeper.queries import Q


@dataclass(frozen=True)
class SweepResult:
    expired: int
    batches: int
    purged: int


def expire_overdue_holds(
    pool: psycopg_pool.ConnectionPool, *, batch_size: int, deadline: float
) -> tuple[int, int]:
    """Walks the overdue ACTIVE holds oldest first, one transaction per batch, until the
    end or `deadline` (a time.monotonic() value); returns (holds expired, batches run).

    Always runs at least one batch, so a tiny budget still makes progress. Holds it had
    to skip are left to the next run.
    """
    expired = batches = 0
    cursor = {"after_time": "-infinity", "after_id": "00000000-0000-0000-0000-000000000000"}
    while True:
        started = time.perf_counter()
        with pool.connection() as conn, conn.transaction():
            row = conn.execute(Q.expire_overdue_batch, {"batch_size": batch_size, **cursor}).fetchone()
        assert row is not None
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
        metrics.HOLDS_EXPIRED.inc(row["expired"])
        expired += row["expired"]
        batches += 1
        # Fewer taken than asked for: the walk reached the end of the overdue holds.
        if row["taken"] < batch_size or time.monotonic() >= deadline:
            return expired, batches
        cursor = {"after_time": row["last_expire_time"], "after_id": row["last_id"]}


def purge_idempotency_keys(
    pool: psycopg_pool.ConnectionPool, *, retention: timedelta, batch_size: int, deadline: float
) -> int:
    """Deletes idempotency records older than `retention` in batches until none is left or
    `deadline` passes; returns how many were deleted."""
    purged = 0
    while True:
        with pool.connection() as conn, conn.transaction():
            cur = conn.execute(
                Q.purge_idempotency_keys,
                {"retention_seconds": retention.total_seconds(), "batch_size": batch_size},
            )
        metrics.IDEMPOTENCY_KEYS_PURGED.inc(cur.rowcount)
        purged += cur.rowcount
        if cur.rowcount < batch_size or time.monotonic() >= deadline:
            return purged


def oldest_overdue_age(pool: psycopg_pool.ConnectionPool) -> float:
    """Seconds the oldest ACTIVE hold has been past its expire_time (0 when none is); also
    sets the gauge."""
    with pool.connection() as conn:
        row = conn.execute(Q.oldest_overdue_age).fetchone()
    assert row is not None
    metrics.OLDEST_OVERDUE_SECONDS.set(row["seconds"])
    return float(row["seconds"])


def sweep(
    pool: psycopg_pool.ConnectionPool, *, batch_size: int, time_budget: float, retention: timedelta
) -> SweepResult:
    """One sweeper run: expiry first (it frees stock), then the purge with what is left of
    `time_budget` seconds (at least one batch each)."""
    deadline = time.monotonic() + time_budget
    oldest_overdue_age(pool)
    expired, batches = expire_overdue_holds(pool, batch_size=batch_size, deadline=deadline)
    purged = purge_idempotency_keys(pool, retention=retention, batch_size=batch_size, deadline=deadline)
    oldest_overdue_age(pool)
    return SweepResult(expired=expired, batches=batches, purged=purged)

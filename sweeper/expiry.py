"""The sweep: overdue holds expired, old idempotency records and stock events purged, in bounded
batches.

Plain functions over a psycopg pool; they know nothing of the queue that triggers them.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from holdfast_common.db.pool import SyncConn, SyncPool
from sweeper import metrics
from sweeper.queries import Q

# The advisory lock class (the first key of the two-key form) of the partition
# claims: "hold" in ASCII, so it cannot be mistaken for another lock's.
PARTITION_LOCK_CLASS = 0x686F6C64
# Before walking again over holds it had to skip, a lone partition waits this
# long, so the transaction that held their stock rows (a batch of another
# partition, a CommitHold) is most likely over.
RETRY_PAUSE_SECONDS = 0.1
_START = {"after_time": "-infinity", "after_id": "00000000-0000-0000-0000-000000000000"}


@dataclass(frozen=True)
class SweepResult:
    expired: int
    batches: int
    purged: int
    events_pruned: int = 0


@dataclass
class _Walk:
    """One partition's progress in one run: a keyset cursor over (expire_time, id), and
    the cursor to walk again from if the current pass left holds behind."""

    partition: int
    cursor: dict[str, Any] = field(default_factory=lambda: dict(_START))
    retry_from: dict[str, Any] | None = None
    pass_expired: int = 0

    def advance(self, row: dict[str, Any]) -> Literal["next", "again", "done"]:
        """Takes in one batch's outcome: the walk goes on to the next batch, starts another
        pass over the holds this one skipped, or is done."""
        self.pass_expired += row["expired"]
        if row["expired"] < row["taken"] and self.retry_from is None:
            self.retry_from = self.cursor
        if row["more"]:
            self.cursor = {"after_time": row["last_expire_time"], "after_id": row["last_id"]}
            return "next"
        # The pass reached the end. Holds it skipped are walked again at once, not a
        # whole interval later, as long as the passes keep expiring some: a pass that
        # expired none means their stock rows are held for long, so the next run retries.
        if self.retry_from is None or self.pass_expired == 0:
            return "done"
        self.cursor, self.retry_from, self.pass_expired = self.retry_from, None, 0
        return "again"


def _expire_batch(conn: SyncConn, walk: _Walk, *, batch_size: int, partitions: int) -> dict[str, Any]:
    """One batch of `walk`'s partition, in a transaction of its own."""
    started = time.perf_counter()
    params = {
        "lock_class": PARTITION_LOCK_CLASS,
        "partition": walk.partition,
        "partitions": partitions,
        "batch_size": batch_size,
        **walk.cursor,
    }
    with conn.transaction():
        row = conn.execute(Q.expire_overdue_batch, params).fetchone()
    assert row is not None
    if row["claimed"]:
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
        metrics.HOLDS_EXPIRED.inc(row["expired"])
    return row


def expire_overdue_holds(
    pool: SyncPool, *, batch_size: int, deadline: float, partitions: int = 1
) -> tuple[int, int]:
    """Walks the overdue ACTIVE holds oldest first, each of the `partitions` in turn, one
    transaction per batch, until the end or `deadline` (a time.monotonic() value); returns
    (holds expired, batches run).

    A partition another run is walking is left to it, so concurrent runs share the work.
    Runs at least one batch unless every partition is taken, so a tiny budget still makes
    progress.
    """
    first = random.randrange(partitions)  # concurrent runs start on different partitions
    todo = deque(_Walk((first + k) % partitions) for k in range(partitions))
    expired = batches = 0
    with pool.connection() as conn:
        while todo:
            walk = todo[0]
            row = _expire_batch(conn, walk, batch_size=batch_size, partitions=partitions)
            if not row["claimed"]:
                todo.popleft()
                continue
            expired += row["expired"]
            batches += 1
            if time.monotonic() >= deadline:
                break
            step = walk.advance(row)
            if step == "done":
                todo.popleft()
            elif step == "again":
                # The other partitions go first; a lone one waits a little instead.
                todo.rotate(-1)
                if len(todo) == 1:
                    time.sleep(RETRY_PAUSE_SECONDS)
    return expired, batches


def _in_batches(pool: SyncPool, run: Callable[[SyncConn], int], *, batch_size: int, deadline: float) -> int:
    """Runs `run` (one batch, returning how many rows it took) a transaction each, until a batch
    comes back short or `deadline` passes; returns the rows taken."""
    total = 0
    while True:
        with pool.connection() as conn, conn.transaction():
            taken = run(conn)
        total += taken
        if taken < batch_size or time.monotonic() >= deadline:
            return total


def purge_idempotency_keys(pool: SyncPool, *, retention: timedelta, batch_size: int, deadline: float) -> int:
    """Deletes idempotency records older than `retention` in batches until none is left or
    `deadline` passes; returns how many were deleted."""
    params = {"retention_seconds": retention.total_seconds(), "batch_size": batch_size}

    def purge(conn: SyncConn) -> int:
        cur = conn.execute(Q.purge_idempotency_keys, params)
        metrics.IDEMPOTENCY_KEYS_PURGED.inc(cur.rowcount)
        return cur.rowcount

    return _in_batches(pool, purge, batch_size=batch_size, deadline=deadline)


def prune_stock_events(pool: SyncPool, *, retention: timedelta, batch_size: int, deadline: float) -> int:
    """Deletes stock events older than `retention`, lowest cursor first, in batches until
    none is left or `deadline` passes; returns how many were deleted."""
    params = {"retention_seconds": retention.total_seconds(), "batch_size": batch_size}

    def prune(conn: SyncConn) -> int:
        row = conn.execute(Q.prune_stock_events, params).fetchone()
        assert row is not None
        return int(row["pruned"])

    return _in_batches(pool, prune, batch_size=batch_size, deadline=deadline)


def oldest_overdue_age(pool: SyncPool) -> float:
    """Seconds the oldest ACTIVE hold has been past its expire_time (0 when none is); also
    sets the gauge."""
    with pool.connection() as conn:
        row = conn.execute(Q.oldest_overdue_age).fetchone()
    assert row is not None
    metrics.OLDEST_OVERDUE_SECONDS.set(row["seconds"])
    return float(row["seconds"])


def sweep(
    pool: SyncPool,
    *,
    batch_size: int,
    time_budget: float,
    retention: timedelta,
    partitions: int = 1,
    event_retention: timedelta | None = None,
) -> SweepResult:
    """One sweeper run: expiry first (it frees stock), then the purge with what is left of
    `time_budget` seconds (at least one batch each)."""
    deadline = time.monotonic() + time_budget
    oldest_overdue_age(pool)
    expired, batches = expire_overdue_holds(
        pool, batch_size=batch_size, deadline=deadline, partitions=partitions
    )
    purged = purge_idempotency_keys(pool, retention=retention, batch_size=batch_size, deadline=deadline)
    events_pruned = 0
    if event_retention is not None:
        events_pruned = prune_stock_events(
            pool, retention=event_retention, batch_size=batch_size, deadline=deadline
        )
    oldest_overdue_age(pool)
    return SweepResult(expired=expired, batches=batches, purged=purged, events_pruned=events_pruned)

"""The sweeper under load: a backlog of overdue holds cleared by a real worker and
scheduler while shoppers keep reserving."""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psycopg

from bench.drivers import OpenEndedLoad, Targets
from bench.event_feed import last_cursor
from bench.measurement import Measurement
from bench.processes import Child
from bench.skus import SkuSet
from bench.stack import child_env
from bench.sweeper_clear import OVERDUE_COUNT, forget_namespace, seed_holds


@dataclass(frozen=True)
class SweepResult:
    holds: int
    # From the scheduler's start until no overdue hold was left; None: not within the timeout.
    seconds: float | None
    left: int
    reservers: Measurement
    peak_rss_mb: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "reservers": self.reservers.to_json()}


def sweep_under_load(
    database_url: str,
    redis_url: str,
    targets: Targets,
    shop: SkuSet,
    *,
    holds: int,
    skus: int,
    reservers: int,
    timeout: float,
    log_dir: Path,
) -> SweepResult:
    """Seeds `holds` overdue holds (1 line each) on `skus` SKUs of their own, then times the
    sweeper clearing them while `reservers` callers run spread CreateHolds over `shop`.

    The shoppers keep to the catalog so that the time is the sweeper's own work (a reserve
    reclaims the overdue holds on the rows it locks, and would otherwise do part of it) and
    their latency compares with the spread scenario's without the sweeper.
    """
    seeding = time.perf_counter()
    with psycopg.connect(database_url, autocommit=True) as conn:
        seed_holds(conn, holds=holds, skus=skus)
        conn.execute("ANALYZE")
    # The seed's own events are positioned before the clock starts: the time is the sweep's,
    # its EXPIRE events included, not the feed digesting a seed no shop would write at once.
    last_cursor(database_url)
    print(f"bench: {holds:,} overdue holds seeded in {time.perf_counter() - seeding:.1f} s", flush=True)
    namespace = f"holdfast-bench-{os.getpid()}"
    env = child_env(database_url, REDIS_URL=redis_url, SWEEPER_REDIS_NAMESPACE=namespace)
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(forget_namespace, redis_url, namespace)
        worker = Child("sweeper worker", ["sweeper", "worker"], env, log_dir / "sweeper-worker.log")
        cleanup.callback(worker.stop_session)
        worker.wait_for("ready for action")
        # No warm-up: the window opens as the scheduler starts.
        load = OpenEndedLoad("spread", reservers, targets=targets, skus=shop, warmup=0)
        cleanup.callback(load.kill)
        load.wait_measuring()
        started = time.perf_counter()
        scheduler_log = log_dir / "sweeper-scheduler.log"
        scheduler = Child("sweeper scheduler", ["sweeper", "scheduler"], env, scheduler_log)
        cleanup.callback(scheduler.stop_session)
        with psycopg.connect(database_url, autocommit=True) as conn:
            seconds, left = _wait_cleared(conn, started, timeout, (worker, scheduler))
        if seconds is None:
            print(f"bench: {left:,} overdue holds left after {timeout:.0f} s; the worker's log ends:")
            print(worker.log_tail(), flush=True)
        measured = load.stop()
        rss = {"sweeper worker": worker.peak_rss_mb(), "sweeper scheduler": scheduler.peak_rss_mb()}
    return SweepResult(holds, seconds, left, measured, rss)


def _wait_cleared(
    conn: psycopg.Connection, started: float, timeout: float, sweeper: tuple[Child, ...]
) -> tuple[float | None, int]:
    while True:
        for child in sweeper:
            child.ensure_running()
        left = int(conn.execute(OVERDUE_COUNT).fetchone()[0])  # type: ignore[index]
        elapsed = time.perf_counter() - started
        if left == 0:
            return elapsed, 0
        if elapsed > timeout:
            return None, left
        time.sleep(0.05)

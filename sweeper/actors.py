"""The expire_holds actor: one sweeper run per message."""

from __future__ import annotations

import time
from datetime import timedelta

import dramatiq
import structlog
from dramatiq.middleware import Middleware

from holdfast_common.settings import SweeperProcessSettings
from sweeper.broker import QUEUE
from sweeper.database import LazyPool
from sweeper.expiry import sweep

ACTOR_NAME = "expire_holds"
# The scheduler sends a message every few seconds, so an old one is redundant:
# dropping it keeps a backlog built up during an outage from replaying.
MAX_AGE_MS = 10 * 60 * 1000
# The run stops itself when its budget is spent; the time limit only catches a
# run stuck past that (a statement that never returns).
TIME_LIMIT_GRACE_MS = 60_000

log = structlog.get_logger(__name__)


class _ClosePool(Middleware):
    """Closes the worker process's pool when the worker stops."""

    def __init__(self, pool: LazyPool) -> None:
        self._pool = pool

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._pool.close()


def declare(broker: dramatiq.Broker, settings: SweeperProcessSettings) -> dramatiq.Actor:
    """Declares expire_holds on `broker`; the database is reached only when a message runs."""
    pool = LazyPool(settings.database)
    sweeper = settings.sweeper
    broker.add_middleware(_ClosePool(pool))

    def expire_holds() -> int:
        """Expires overdue holds, purges old idempotency records and stock events; returns the
        holds expired."""
        started = time.perf_counter()
        result = sweep(
            pool.get(),
            batch_size=sweeper.sweeper_batch_size,
            time_budget=sweeper.sweeper_time_budget_seconds,
            retention=timedelta(hours=sweeper.idempotency_retention_hours),
            partitions=sweeper.sweeper_partitions,
            event_retention=timedelta(hours=settings.events.event_retention_hours),
        )
        # A run with nothing to do is the common case every few seconds: keep it quiet.
        report = log.info if result.expired or result.purged or result.events_pruned else log.debug
        report(
            "sweep finished",
            holds_expired=result.expired,
            batches=result.batches,
            idempotency_keys_purged=result.purged,
            stock_events_pruned=result.events_pruned,
            seconds=round(time.perf_counter() - started, 3),
        )
        return result.expired

    # Options first, then the function: dramatiq's typed overloads have no (fn, **options) form.
    return dramatiq.actor(
        broker=broker,
        actor_name=ACTOR_NAME,
        queue_name=QUEUE,
        max_age=MAX_AGE_MS,
        time_limit=int(sweeper.sweeper_time_budget_seconds * 1000) + TIME_LIMIT_GRACE_MS,
        # On SIGTERM a running sweep is interrupted; its open batch rolls back and
        # the message is retried, so stopping never waits for a long run.
        notify_shutdown=True,
    )(expire_holds)

"""The scheduler process: every interval, the leading scheduler sends expire_holds messages."""

from __future__ import annotations

import logging
import signal
import sys
from datetime import UTC, datetime

import dramatiq
import structlog
from apscheduler.schedulers.blocking import BlockingScheduler
from redis.exceptions import RedisError

from holdfast_common.observability.logs import configure_logging
from holdfast_common.observability.metrics_http import serve_metrics
from holdfast_common.settings import SweeperProcessSettings
from sweeper.actors import declare
from sweeper.broker import make_broker
from sweeper.leader import Leadership, leader_key
from sweeper.scheduler_metrics import LEADING, RUNS_SENT

log = structlog.get_logger(__name__)


def send_if_leading(leadership: Leadership, actor: dramatiq.Actor, runs: int) -> None:
    """Sends `runs` messages when this scheduler leads; a Redis outage skips the tick."""
    LEADING.set(1 if leadership.leading else 0)
    if not leadership.leading:
        return
    try:
        # One run per partition, so a backlog is swept by as many at once; a run that
        # finds every partition taken returns at once.
        for _ in range(runs):
            actor.send()
            RUNS_SENT.inc()
    except RedisError as exc:
        log.warning("expire_holds not sent", error=str(exc))


def build_scheduler(settings: SweeperProcessSettings) -> tuple[BlockingScheduler, Leadership]:
    """The scheduler with its two jobs (renew leadership, send the message), not started."""
    sweeper = settings.sweeper
    broker = make_broker(sweeper)
    actor = declare(broker, settings)
    ttl = sweeper.sweeper_leader_ttl_seconds
    leadership = Leadership(broker.client, leader_key(sweeper.sweeper_redis_namespace), ttl_seconds=ttl)
    scheduler = BlockingScheduler(timezone=UTC)
    now = datetime.now(UTC)
    # coalesce + max_instances=1: a late or slow tick runs once, never piles up.
    common = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None, "next_run_time": now}
    # Renewing three times per TTL lets two renewals fail before the lock lapses.
    scheduler.add_job(leadership.refresh, "interval", seconds=ttl / 3, id="leadership", **common)
    scheduler.add_job(
        send_if_leading,
        "interval",
        seconds=sweeper.sweeper_interval_seconds,
        args=(leadership, actor, sweeper.sweeper_partitions),
        id="expire_holds",
        **common,
    )
    return scheduler, leadership


def main() -> int:
    """`python -m sweeper scheduler`: runs until SIGTERM/SIGINT, then hands leadership over."""
    settings = SweeperProcessSettings.from_environment()
    if not settings.sweeper.redis_url:
        print("sweeper scheduler: REDIS_URL must be set", file=sys.stderr)
        return 2
    configure_logging(settings.observability.log_level)
    # APScheduler narrates every job added and every tick; only its warnings matter here.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    scheduler, leadership = build_scheduler(settings)
    observability = settings.observability
    if observability.sweeper_scheduler_metrics_port:
        serve_metrics(observability.metrics_host, observability.sweeper_scheduler_metrics_port)

    def stop(signum: int, _frame: object) -> None:
        if not scheduler.running:
            raise SystemExit(0)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # Decide leadership before the first tick so a lone scheduler sends at once.
    leadership.refresh()
    log.info(
        "sweeper scheduler started",
        interval_seconds=settings.sweeper.sweeper_interval_seconds,
        leading=leadership.leading,
    )
    scheduler.start()
    leadership.resign()
    log.info("sweeper scheduler stopped")
    return 0

"""The Redis broker the worker and the scheduler share, with the middleware the sweeper relies on."""

from __future__ import annotations

import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AgeLimit, Retries, ShutdownNotifications, TimeLimit
from dramatiq.results import Results
from dramatiq.results.backends import RedisBackend

from holdfast_common.settings import SweeperSettings

QUEUE = "sweeper"
# A failed run (the database down, a time limit hit) is retried with exponential
# backoff; the scheduler keeps sending fresh messages meanwhile, so giving up
# after a few minutes loses nothing.
MAX_RETRIES = 10
MIN_BACKOFF_MS = 1_000
MAX_BACKOFF_MS = 30_000
# Each run's result (the holds it expired) is kept this long for a sender that
# waits on it, such as an operator starting a run by hand.
RESULT_TTL_MS = 60_000


def redis_client(sweeper: SweeperSettings) -> redis.Redis:
    """A client for REDIS_URL (redis://, rediss:// or unix://) with bounded waits."""
    if not sweeper.redis_url:
        raise ValueError("REDIS_URL is not set")
    return redis.Redis.from_url(
        sweeper.redis_url, socket_connect_timeout=5, socket_timeout=10, health_check_interval=30
    )


def make_broker(sweeper: SweeperSettings) -> RedisBroker:
    """A broker whose keys (queue, results) all start with SWEEPER_REDIS_NAMESPACE.

    Creating it opens no connection: redis-py connects on first use.
    """
    client = redis_client(sweeper)
    namespace = sweeper.sweeper_redis_namespace
    results = RedisBackend(client=client, namespace=f"{namespace}:results", use_namespace_prefix_keys=True)
    return RedisBroker(
        client=client,
        namespace=namespace,
        middleware=[
            AgeLimit(),
            TimeLimit(),
            ShutdownNotifications(),
            Retries(max_retries=MAX_RETRIES, min_backoff=MIN_BACKOFF_MS, max_backoff=MAX_BACKOFF_MS),
            Results(backend=results, store_results=True, result_ttl=RESULT_TTL_MS),
        ],
    )

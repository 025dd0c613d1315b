"""The connection pool's usage, read when /metrics is scraped."""

from __future__ import annotations

from collections.abc import Iterator

import structlog
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from holdfast_common.db.pool import AsyncPool

log = structlog.get_logger(__name__)

# psycopg_pool's get_stats() keys (a counter key is absent until it first counts) as
# (key, metric name, help, is a counter, scale).
_POOL_STATS = (
    ("pool_min", "holdfast_db_pool_min_size", "Connections the pool keeps open at least.", False, 1),
    ("pool_max", "holdfast_db_pool_max_size", "Connections the pool opens at most.", False, 1),
    ("pool_size", "holdfast_db_pool_connections", "Connections open, in use or idle.", False, 1),
    ("pool_available", "holdfast_db_pool_idle_connections", "Connections idle in the pool.", False, 1),
    (
        "requests_waiting",
        "holdfast_db_pool_requests_waiting",
        "Calls waiting for a connection.",
        False,
        1,
    ),
    ("requests_num", "holdfast_db_pool_requests", "Connections asked of the pool.", True, 1),
    ("requests_queued", "holdfast_db_pool_requests_queued", "Requests that had to wait.", True, 1),
    ("requests_wait_ms", "holdfast_db_pool_request_wait_seconds", "Time spent waiting.", True, 0.001),
    ("requests_errors", "holdfast_db_pool_request_errors", "Requests that timed out or failed.", True, 1),
    ("connections_lost", "holdfast_db_pool_connections_lost", "Connections found broken.", True, 1),
)


class PoolCollector(Collector):
    """The usage of one psycopg pool, labelled with its name."""

    def __init__(self, pool: AsyncPool) -> None:
        self._pool = pool

    def collect(self) -> Iterator[Metric]:
        stats = self._pool.get_stats()
        for key, name, doc, is_counter, scale in _POOL_STATS:
            family = CounterMetricFamily if is_counter else GaugeMetricFamily
            metric = family(name, doc, labels=["pool"])
            metric.add_metric([self._pool.name], stats.get(key, 0) * scale)
            yield metric

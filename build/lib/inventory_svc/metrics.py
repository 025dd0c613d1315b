"""The holds in play, counted when /metrics is scraped."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import structlog
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from holdfast_common.db.pool import AsyncPool
from inventory_svc.queries import Q

log = structlog.get_logger(__name__)

_HOLDS_TIMEOUT_SECONDS = 2.0


class HoldsCollector(Collector):
    """ACTIVE holds, and those of them past their expire_time the sweeper has yet to expire.

    Scrapes arrive on the metrics thread; the query runs on the service's own loop and pool.
    """

    def __init__(self, pool: AsyncPool, loop: asyncio.AbstractEventLoop) -> None:
        self._pool = pool
        self._loop = loop

    async def _count(self) -> dict[str, int]:
        async with self._pool.connection() as conn:
            row = await (await conn.execute(Q.count_active_holds)).fetchone()
        assert row is not None
        return dict(row)

    def collect(self) -> Iterator[Metric]:
        try:
            counts = asyncio.run_coroutine_threadsafe(self._count(), self._loop).result(
                _HOLDS_TIMEOUT_SECONDS
            )
        except Exception as exc:  # a scrape must still show everything else
            log.warning("holds not counted", error=type(exc).__name__)
            return
        yield GaugeMetricFamily("holdfast_holds_active", "Holds in state ACTIVE.", value=counts["active"])
        yield GaugeMetricFamily(
            "holdfast_holds_overdue",
            "ACTIVE holds past their expire_time, not yet expired by the sweeper.",
            value=counts["overdue"],
        )

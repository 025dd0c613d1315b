"""Stock level changes for WatchStockLevels: one LISTEN connection per process, fanned out.

The database announces each changed SKU on the channel `stock_levels` (migration 0004;
the LISTEN is the query `listen_stock_levels` in sql/stock.sql).
One task listens and collects the SKUs; another re-reads their levels, one query per
batch for every stream, and offers them to the subscriptions that watch them. All reads
(a new stream's first levels too) happen one at a time, so each stream sees every SKU's
levels in the order they were read and never an older level after a newer one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import structlog

from holdfast_common.errors import ErrorKind, HoldfastError
from inventory_svc.listener import BACKOFF_FIRST, BACKOFF_MAX, Connect, listen_forever
from inventory_svc.models import SkuLevels
from inventory_svc.queries import Q

log = structlog.get_logger(__name__)

# How the listener's connection shows in pg_stat_activity.
APPLICATION_NAME = "inventory_svc.stock_events"
ReadLevels = Callable[[list[str]], Awaitable[list[SkuLevels]]]


class Subscription:
    """One stream's mailbox: the latest unsent level per SKU, so a slow stream gets
    coalesced updates and the mailbox never holds more than its SKUs."""

    def __init__(self, first: list[SkuLevels]) -> None:
        self.skus = frozenset(level.sku for level in first)
        self._known = {level.sku: level for level in first}
        self._pending = dict(self._known)
        self._ready = asyncio.Event()
        self._ready.set()
        self._closed = False

    def offer(self, level: SkuLevels) -> None:
        # A re-read that finds what the stream already has is not a change.
        if level.sku in self.skus and self._known.get(level.sku) != level:
            self._known[level.sku] = level
            self._pending[level.sku] = level
            self._ready.set()

    def close(self) -> None:
        self._closed = True
        self._ready.set()

    async def next(self) -> list[SkuLevels]:
        """The levels changed since the last call, waiting for one; UNAVAILABLE once closed."""
        await self._ready.wait()
        if self._closed:
            raise HoldfastError(ErrorKind.UNAVAILABLE, "SHUTTING_DOWN", "the server is shutting down")
        self._ready.clear()
        levels = list(self._pending.values())
        self._pending.clear()
        return levels


class StockEvents:
    """The process's listener; started by the first watch, stopped by close()."""

    def __init__(self, connect: Connect, read_levels: ReadLevels) -> None:
        self._connect = connect
        self._read_levels = read_levels
        self._subscriptions: set[Subscription] = set()
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._reads = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False

    @contextlib.asynccontextmanager
    async def watch(self, skus: list[str]) -> AsyncIterator[Subscription]:
        """Subscribes to `skus`, whose current levels are the first next(); raises what
        reading them raises (NOT_FOUND for an unknown SKU)."""
        if self._closed:
            raise HoldfastError(ErrorKind.UNAVAILABLE, "SHUTTING_DOWN", "the server is shutting down")
        self._start()
        # Read and subscribed under the lock the re-reads take: a change the first read
        # missed is announced later and re-read after it, and found by the re-read
        # after a reconnect if the listener was away.
        async with self._reads:
            subscription = Subscription(await self._read_levels(skus))
            self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)

    async def close(self) -> None:
        """Stops listening and ends every open subscription with UNAVAILABLE."""
        self._closed = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for subscription in self._subscriptions:
            subscription.close()

    def _start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._listen(), name="stock-events-listen"),
                asyncio.create_task(self._publish(), name="stock-events-publish"),
            ]

    def _mark(self, skus: set[str]) -> None:
        self._dirty |= skus
        self._wake.set()

    def _watched(self) -> set[str]:
        return set().union(*(s.skus for s in self._subscriptions))

    async def _listen(self) -> None:
        # Changes made while we were not listening were never announced: re-read everything
        # watched (streams get only what changed).
        await listen_forever(
            self._connect,
            Q.listen_stock_levels,
            lambda: self._mark(self._watched()),
            lambda notify: self._mark({notify.payload}),
            "stock levels",
        )

    async def _publish(self) -> None:
        """Re-reads the announced SKUs someone watches and offers their levels."""
        backoff = BACKOFF_FIRST
        while True:
            await self._wake.wait()
            self._wake.clear()
            skus: set[str] = set()
            try:
                async with self._reads:
                    skus = self._dirty & self._watched()
                    self._dirty.clear()
                    if not skus:
                        continue
                    levels = await self._read_levels(sorted(skus))
                    for subscription in self._subscriptions:
                        for level in levels:
                            subscription.offer(level)
                backoff = BACKOFF_FIRST
            except Exception as exc:  # the database is away: keep the SKUs and try again
                log.warning("stock levels re-read failed", error=str(exc), retry_in=backoff)
                self._mark(skus)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)

"""The stock event feed: the sequencer that gives events their cursors, and the reads that
StreamStockEvents replays and tails.

Events are written without a position by the ledger trigger (migration 0008). The sequencer
positions the committed ones in passes, one pass at a time across every replica (an advisory
lock), so positions increase in commit order and a reader by position never skips an event
that committed late. A pass runs when the trigger announces new events (stock_events_pending)
and on a short timer, in case an announcement was missed while the listener reconnected.
Passes announce their last position (stock_events); streams wait on that to re-read.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import structlog

from holdfast_common.db.pool import AsyncPool
from holdfast_common.errors import ErrorKind, HoldfastError
from inventory_svc.models import EventFilter, StockEvent, StockLevel
from inventory_svc.queries import Q
from inventory_svc.stock_events import Connect

log = structlog.get_logger(__name__)

# Events and the cursor to read on from.
Page = tuple[list[StockEvent], int]

# "stockevt" in ASCII: the sequencer's advisory lock, distinct from every other lock's key.
SEQUENCER_LOCK_KEY = 0x73746F636B657674
SEQUENCER_BATCH = 5000
PAGE_SIZE = 1000
# A filtered stream that sees no matching event still learns how far it got this often.
PROGRESS_SECONDS = 1.0
# How long a page read by one stream serves the others asking for the same.
PAGE_SHARE_SECONDS = 0.05
# A tailing stream reads at most this often, and a sequencer pass waits this long after its
# wake-up: under load each then takes in many commits at once instead of one read or one
# transaction per commit (what the reserve path would pay for in CPU), for a few ms of latency.
TAIL_COALESCE_SECONDS = 0.1
SEQUENCER_COALESCE_SECONDS = 0.05
# How long close() lets a running sequencer pass finish.
CLOSE_WAIT_SECONDS = 5.0
_BACKOFF_FIRST = 0.1
_BACKOFF_MAX = 5.0


class _Signal:
    """Wakes every waiter at once; a waiter that arrives after a fire waits for the next.
    `generation` counts the fires."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.generation = 0

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()
        self.generation += 1

    async def wait(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)


async def position_events(pool: AsyncPool) -> int:
    """One sequencer pass (in batches); returns the events positioned, 0 when another
    replica's pass holds the lock."""
    total = 0
    while True:
        async with pool.connection() as conn, conn.transaction():
            cur = await conn.execute(Q.try_lock_sequencer, {"lock_key": SEQUENCER_LOCK_KEY})
            locked = await cur.fetchone()
            if not (locked and locked["locked"]):
                return total
            cur = await conn.execute(Q.position_stock_events, {"batch_size": SEQUENCER_BATCH})
            row = await cur.fetchone()
        assert row is not None
        total += row["positioned"]
        if row["positioned"] < SEQUENCER_BATCH:
            return total


def _event(row: dict[str, Any]) -> StockEvent:
    level = StockLevel(
        row["sku"],
        row["on_hand"],
        row["reserved"],
        location=row["location"],
        safety_stock=row["safety_stock"],
        damaged=row["damaged"],
        quality_control=row["quality_control"],
        incoming=row["incoming"],
        backordered=row["backordered"],
        preordered=row["preordered"],
        owed=row["owed"],
    )
    return StockEvent(
        position=row["position"],
        id=row["id"],
        seq=row["seq"],
        type=row["type"],
        level=level,
        hold_id=row["hold_id"] or "",
        receipt_id=row["receipt_id"] or "",
        request_id=row["request_id"] or "",
        create_time=row["create_time"],
        low_stock_at=row["low_stock_at"],
    )


async def read_events(pool: AsyncPool, after: int, wanted: EventFilter, limit: int = PAGE_SIZE) -> Page:
    """Up to `limit` events after cursor `after` that `wanted` matches, and the cursor to read
    on from (past the events skipped by the filter); OUT_OF_RANGE when events after `after`
    have been pruned."""
    params = {
        "after": after,
        "skus": list(wanted.skus),
        "locations": list(wanted.locations),
        "types": list(wanted.types),
        "limit": limit,
    }
    async with pool.connection() as conn:
        cur = await conn.execute(Q.read_stock_events, params)
        rows = await cur.fetchall()
    pruned_through = rows[0]["pruned_through"]
    if after < pruned_through:
        raise HoldfastError(
            ErrorKind.OUT_OF_RANGE,
            "CURSOR_EXPIRED",
            f"events after cursor {after} are no longer kept; the oldest cursor to resume from is "
            f"{pruned_through}: re-read the levels (BatchGetStockLevels) and stream from there",
            metadata={"after_cursor": str(after), "oldest_cursor": str(pruned_through)},
        )
    events = [_event(row) for row in rows if row["position"] is not None]
    if len(events) == limit:
        return events, events[-1].position
    # A short page saw every matching event up to the snapshot's last position.
    return events, max(after, rows[0]["last_position"])


class EventFeed:
    """The process's sequencer and the wake-ups of its streams; start() at server start."""

    def __init__(self, pool: AsyncPool, connect: Connect, interval: float) -> None:
        self._pool = pool
        self._connect = connect
        self._interval = interval
        self._pending = asyncio.Event()
        self._positioned = _Signal()
        # Tailing streams of one process read the same pages: one read per page, filter and
        # generation of positions, shared for a moment (see _read), with when it was started.
        self._pages: dict[tuple[int, EventFilter], tuple[float, asyncio.Future[Page]]] = {}
        self._pages_generation = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._listen(), name="event-feed-listen"),
                asyncio.create_task(self._sequence(), name="event-feed-sequence"),
            ]

    async def close(self) -> None:
        """Ends the streams, lets a running sequencer pass finish (a cancelled one would leave
        its connection mid-statement), and stops listening."""
        if self._closed:
            return
        self._closed = True
        self._positioned.fire()
        self._pending.set()
        sequencer = self._tasks[1:]
        if sequencer:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(sequencer[0]), CLOSE_WAIT_SECONDS)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def stream(self, after: int, wanted: EventFilter) -> AsyncIterator[tuple[list[StockEvent], int]]:
        """Replays the events after `after`, then tails new ones as they are positioned, each
        batch with the cursor to resume from. A batch without events reports progress: always
        when the replay first catches up (so the consumer knows), then past filtered-out
        events at most every PROGRESS_SECONDS. UNAVAILABLE once the feed closes."""
        cursor = after
        reported: int | None = None
        caught_up = False
        last_sent = 0.0
        while not self._closed:
            # Taken before the read: a pass that commits during it still wakes the wait below.
            waiter = asyncio.ensure_future(self._positioned.wait(self._interval * 4))
            try:
                events, cursor = await self._read(cursor, wanted)
                now = time.monotonic()
                progress = not caught_up or (cursor != reported and now - last_sent >= PROGRESS_SECONDS)
                if events or progress:
                    yield events, cursor
                    reported, last_sent = cursor, now
                if events:
                    continue
                caught_up = True
                await waiter
                await asyncio.sleep(TAIL_COALESCE_SECONDS)
            finally:
                waiter.cancel()
        raise HoldfastError(ErrorKind.UNAVAILABLE, "SHUTTING_DOWN", "the server is shutting down")

    async def _read(self, after: int, wanted: EventFilter) -> Page:
        """read_events, shared by the streams that ask for the same page before new positions
        are given: a shared answer is as good as each stream's own, since any stream that
        asked before the positions moved is woken by that move (its waiter was taken before
        this call) and reads again under the new generation."""
        now = time.monotonic()
        if self._pages_generation != self._positioned.generation:
            self._pages.clear()
            self._pages_generation = self._positioned.generation
        key = (after, wanted)
        started, page = self._pages.get(key, (0.0, None))
        # Only for a moment: positions given by another replica whose NOTIFY was missed move
        # no generation, and a stream's timed re-read must then see them.
        if page is None or now - started > PAGE_SHARE_SECONDS:
            page = asyncio.ensure_future(read_events(self._pool, after, wanted))
            self._pages[key] = (now, page)
            # A failed read is not kept for the others: each retries on its own.
            page.add_done_callback(lambda done: self._forget_failed(key, done))
        return await asyncio.shield(page)

    def _forget_failed(self, key: tuple[int, EventFilter], done: asyncio.Future[Page]) -> None:
        if done.cancelled() or done.exception() is not None:
            entry = self._pages.get(key)
            if entry is not None and entry[1] is done:
                del self._pages[key]

    async def changed_skus(self, after: int, skus: list[str]) -> AsyncIterator[tuple[list[str], int]]:
        """WatchStockLevels resumed after `after`: the SKUs with events in each batch (empty on
        progress) and the cursor past them."""
        async for events, cursor in self.stream(after, EventFilter(skus=tuple(skus))):
            yield sorted({event.level.sku for event in events}), cursor

    async def _listen(self) -> None:
        backoff = _BACKOFF_FIRST
        while True:
            try:
                async with await self._connect() as conn:
                    await conn.execute(Q.listen_stock_events)
                    backoff = _BACKOFF_FIRST
                    # Whatever was announced while away: positions to give, and to read.
                    self._pending.set()
                    self._positioned.fire()
                    async for notify in conn.notifies():
                        if notify.channel == "stock_events_pending":
                            self._pending.set()
                        else:
                            self._positioned.fire()
            except (psycopg.Error, OSError) as exc:
                log.warning("event listener lost its connection", error=str(exc), retry_in=backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _BACKOFF_MAX)

    async def _sequence(self) -> None:
        backoff = _BACKOFF_FIRST
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._pending.wait(), self._interval)
            if self._closed:
                return
            await asyncio.sleep(SEQUENCER_COALESCE_SECONDS)
            self._pending.clear()
            try:
                if await position_events(self._pool):
                    # Local streams need not wait for the NOTIFY's round trip.
                    self._positioned.fire()
                backoff = _BACKOFF_FIRST
            except Exception as exc:  # the database is away: try again
                log.warning("event sequencer pass failed", error=str(exc), retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)

"""The stock event feed: the sequencer that gives events their cursors, and the reads that
StreamStockEvents replays and tails.

Writers only insert events, without a position (the ledger trigger, migration 0008). The
sequencer positions the committed ones in passes, one pass at a time across every replica (an
advisory lock), so positions increase in commit order and a reader by position never skips an
event that committed late. A pass also numbers each key's events and adds the threshold
crossings, from its memory of every key (stock_event_keys): work the writers would otherwise
do on their hottest rows. Passes run every `interval` seconds while the feed is quiet and back
to back while a pass finds a full batch; each announces its last position (NOTIFY
stock_events), which streams wait on to re-read.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from typing import Any

import structlog

from holdfast_common.db.pool import AsyncConn, AsyncPool, read
from holdfast_common.errors import ErrorKind, HoldfastError, not_found
from inventory_svc.listener import BACKOFF_FIRST, BACKOFF_MAX, Connect, listen_forever
from inventory_svc.models import COUNTS, EventFilter, StockEvent
from inventory_svc.places import resolve_channels
from inventory_svc.queries import Q
from inventory_svc.stock import level_of

log = structlog.get_logger(__name__)

# Events and the cursor to read on from.
Page = tuple[list[StockEvent], int]

# "stockevt" in ASCII: the sequencer's advisory lock, distinct from every other lock's key.
SEQUENCER_LOCK_KEY = 0x73746F636B657674
SEQUENCER_BATCH = 5000
# Positions per read: positions are dense, so a page is a range of them.
PAGE_POSITIONS = 2000
# A filtered stream that sees no matching event still learns how far it got this often.
PROGRESS_SECONDS = 1.0
# How long a page read by one stream serves the others asking for the same.
PAGE_SHARE_SECONDS = 0.05
# A tailing stream reads at most this often: under load it takes in many commits at once
# instead of one read per commit (CPU the reserve path would pay for), for a few ms of latency.
TAIL_COALESCE_SECONDS = 0.1
# How long close() lets a running sequencer pass finish.
CLOSE_WAIT_SECONDS = 5.0

# How the feed's listener connection shows in pg_stat_activity.
APPLICATION_NAME = "inventory_svc.event_feed"

# The stock columns an event carries, in the order a Levels tuple holds them.
LEVEL_FIELDS = ("on_hand", "reserved", *COUNTS)
Levels = tuple[int, ...]
NO_LEVELS: Levels = (0,) * len(LEVEL_FIELDS)
# A (SKU, location, channel): a location's key has channel '', a channel's location ''.
Key = tuple[str, str, str]


def available(levels: Levels) -> int:
    on_hand, reserved, safety_stock, damaged, quality_control = levels[:5]
    return on_hand - reserved - safety_stock - damaged - quality_control


@dataclass(frozen=True)
class Memory:
    """What the sequencer knows of a key as of its last positioned event."""

    last_seq: int = 0
    levels: Levels = NO_LEVELS
    low: bool = False
    crossings: int = 0


@dataclass(frozen=True)
class Crossing:
    position: int
    seq: int
    key: Key
    type: str
    low_stock_at: int
    levels: Levels


@dataclass
class Pass:
    """What one sequencer pass writes: positions and sequence numbers by serial, the
    crossings, and the memory of the keys it touched."""

    last_position: int
    positioned: list[tuple[int, int, int]] = field(default_factory=list)
    crossings: list[Crossing] = field(default_factory=list)
    memory: dict[Key, Memory] = field(default_factory=dict)


@dataclass(frozen=True)
class Judges:
    """The thresholds of a batch's SKUs by key, and the active locations of the channels
    that have one."""

    thresholds: dict[Key, int]
    channel_locations: dict[str, tuple[str, ...]]

    def location_threshold(self, sku: str, location: str) -> int | None:
        found = self.thresholds.get((sku, location, ""))
        return found if found is not None else self.thresholds.get((sku, "", ""))

    def channels_judging(self, sku: str, location: str) -> Iterable[tuple[str, int]]:
        for channel, locations in self.channel_locations.items():
            threshold = self.thresholds.get((sku, "", channel))
            if threshold is not None and location in locations:
                yield channel, threshold


def sequence(
    last_position: int, events: list[tuple[int, str, str, Levels]], memory: dict[Key, Memory], judges: Judges
) -> Pass:
    """Positions `events` (serial, SKU, location, levels after; in serial order) after
    `last_position`: each key's events numbered on from its memory, and after any event
    that takes a key's available across its threshold (to or below it: LOW_STOCK; above it
    again: BACK_IN_STOCK), the crossing, with the next position and the key's next number.
    A key's low mark changes only with a crossing event, so each crossing has exactly one,
    judged against the threshold in force at the pass."""
    done = Pass(last_position)
    known = dict(memory)

    def cross(key: Key, was: Memory, levels: Levels, threshold: int | None) -> Memory:
        if threshold is None or (available(levels) <= threshold) == was.low:
            return replace(was, levels=levels)
        done.last_position += 1
        kind = "BACK_IN_STOCK" if was.low else "LOW_STOCK"
        done.crossings.append(Crossing(done.last_position, was.last_seq + 1, key, kind, threshold, levels))
        return Memory(was.last_seq + 1, levels, not was.low, was.crossings + 1)

    for serial, sku, location, levels in events:
        key = (sku, location, "")
        was = known.get(key, Memory())
        done.last_position += 1
        done.positioned.append((serial, done.last_position, was.last_seq + 1))
        known[key] = done.memory[key] = cross(
            key, replace(was, last_seq=was.last_seq + 1), levels, judges.location_threshold(sku, location)
        )
        for channel, threshold in judges.channels_judging(sku, location):
            totals = [known.get((sku, at, ""), Memory()).levels for at in judges.channel_locations[channel]]
            summed = tuple(sum(column) for column in zip(*totals, strict=True)) if totals else NO_LEVELS
            channel_key = (sku, "", channel)
            known[channel_key] = done.memory[channel_key] = cross(
                channel_key, known.get(channel_key, Memory()), summed, threshold
            )
    return done


def _levels(row: dict[str, Any]) -> Levels:
    return tuple(row[name] for name in LEVEL_FIELDS)


async def _judges_and_memory(conn: AsyncConn, skus: list[str]) -> tuple[dict[Key, Memory], Judges]:
    cur = await conn.execute(Q.stock_event_memory, {"skus": skus})
    memory: dict[Key, Memory] = {}
    thresholds: dict[Key, int] = {}
    channel_locations: dict[str, list[str]] = {}
    for row in await cur.fetchall():
        if row["kind"] == "key":
            memory[(row["sku"], row["location"], row["channel"])] = Memory(
                row["last_seq"], _levels(row), row["low"], row["crossings"]
            )
        elif row["kind"] == "threshold":
            thresholds[(row["sku"], row["location"], row["channel"])] = row["low_stock_at"]
        else:
            channel_locations.setdefault(row["channel"], []).append(row["location"])
    judges = Judges(thresholds, {code: tuple(at) for code, at in channel_locations.items()})
    return memory, judges


async def _write(conn: AsyncConn, done: Pass) -> None:
    serials, positions, seqs = zip(*done.positioned, strict=True)
    params = {
        "serials": list(serials),
        "positions": list(positions),
        "seqs": list(seqs),
        "first_serial": serials[0],
        "last_serial": serials[-1],
    }
    await conn.execute(Q.position_stock_events, params)
    if done.crossings:
        c = done.crossings
        crossings: dict[str, Any] = {
            "positions": [x.position for x in c],
            "seqs": [x.seq for x in c],
            "skus": [x.key[0] for x in c],
            "locations": [x.key[1] for x in c],
            "channels": [x.key[2] for x in c],
            "types": [x.type for x in c],
            "low_stock_at": [x.low_stock_at for x in c],
        }
        for n, name in enumerate(LEVEL_FIELDS):
            crossings[name] = [x.levels[n] for x in c]
        await conn.execute(Q.insert_crossings, crossings)
    keys = sorted(done.memory)
    remembered = [done.memory[k] for k in keys]
    memory: dict[str, Any] = {
        "skus": [k[0] for k in keys],
        "locations": [k[1] for k in keys],
        "channels": [k[2] for k in keys],
        "last_seq": [m.last_seq for m in remembered],
        "low": [m.low for m in remembered],
        "crossings": [m.crossings for m in remembered],
    }
    for n, name in enumerate(LEVEL_FIELDS):
        memory[name] = [m.levels[n] for m in remembered]
    await conn.execute(Q.remember_stock_event_keys, memory)


@dataclass(frozen=True)
class ScanMark:
    """Where the sequencer reads from (migration 0008, stock_event_cursor): every event with a
    serial below `scan_from` is positioned or was rolled back; `settle_serial` was the last
    serial drawn when a pass read it, and `settle_xid` that pass's own xid, assigned after the
    read: xids are handed out in order, so every transaction that could still insert an event
    at or below `settle_serial` has a smaller one. (The snapshot's xmax is no such bound: it is
    one past the latest completed xid, and larger ones may already be running.)"""

    scan_from: int
    settle_serial: int
    settle_xid: int

    def after(self, *, read_xmin: int, allocated: int, covered: int | None) -> tuple[ScanMark, bool]:
        """The mark after a pass that positioned every event its snapshot (of xmin
        `read_xmin`) showed from `scan_from` through `covered` (None: all of them; a full
        batch stops short), and whether to take a new settle point (`allocated`, the last
        serial drawn, read before the snapshot, with the pass's own xid). Once the xmin reaches
        `settle_xid`, no event at or below `settle_serial` can appear any more, so the mark
        moves over what is covered of it."""
        if read_xmin < self.settle_xid:
            return self, False
        if covered is not None and covered < self.settle_serial:
            return replace(self, scan_from=max(self.scan_from, covered + 1)), False
        scan_from = max(self.scan_from, self.settle_serial + 1)
        # Nothing drawn since the settle point: it stays good, and a quiet feed writes nothing.
        return replace(self, scan_from=scan_from, settle_serial=allocated), allocated != self.settle_serial


async def position_events(pool: AsyncPool) -> int:
    """One sequencer pass (in batches); returns the events positioned, 0 when none waited
    or another replica's pass holds the lock."""
    total = 0
    while True:
        async with pool.connection() as conn, conn.transaction():
            cur = await conn.execute(Q.try_lock_sequencer, {"lock_key": SEQUENCER_LOCK_KEY})
            locked = await cur.fetchone()
            if not (locked and locked["locked"]):
                return total
            cur = await conn.execute(Q.sequence_plain_stock_events, {"batch_size": SEQUENCER_BATCH})
            plain = await cur.fetchone()
            assert plain is not None
            found, last_serial = plain["found"], plain["last_serial"]
            if not plain["plain"]:
                found, last_serial = await _judge_and_position(conn)
            mark = ScanMark(plain["scan_from"], plain["settle_serial"], plain["settle_xid"])
            moved, renew = mark.after(
                read_xmin=plain["read_xmin"],
                allocated=locked["allocated"],
                covered=last_serial if found >= SEQUENCER_BATCH else None,
            )
            if moved != mark or renew:
                await conn.execute(Q.move_scan_mark, {**asdict(moved), "renew": renew})
        total += found
        if found < SEQUENCER_BATCH:
            return total


async def _judge_and_position(conn: AsyncConn) -> tuple[int, int | None]:
    """The pass of a batch some threshold judges: `sequence` over the batch and the memory
    of its SKUs' keys; returns the events positioned and the last one's serial."""
    cur = await conn.execute(Q.pending_stock_events, {"batch_size": SEQUENCER_BATCH})
    rows = await cur.fetchall()
    events = [(r["serial"], r["sku"], r["location"], _levels(r)) for r in rows]
    memory, judges = await _judges_and_memory(conn, sorted({sku for _, sku, _, _ in events}))
    done = sequence(rows[0]["last_position"], events, memory, judges)
    await _write(conn, done)
    await conn.execute(Q.advance_stock_event_cursor, {"last_position": done.last_position})
    return len(events), events[-1][0]


def _event(row: dict[str, Any]) -> StockEvent:
    level = level_of(row)
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
        channel=row["channel"],
    )


async def resolve_filter(pool: AsyncPool, wanted: EventFilter) -> EventFilter:
    """`wanted` with its channels resolved: their codes, and their active locations as of now;
    NOT_FOUND naming the first channel that names none."""
    if not wanted.channels:
        return wanted
    found = await read(pool, partial(resolve_channels, refs=list(wanted.channels)))
    for i, ref in enumerate(wanted.channels):
        if ref not in found:
            raise not_found("channel", f"channels[{i}]", ref)
    routes = [found[ref] for ref in wanted.channels]
    return replace(
        wanted,
        channels=tuple(dict.fromkeys(route.code for route in routes)),
        channel_locations=tuple(sorted({at for route in routes for at in route.locations})),
    )


async def read_events(
    pool: AsyncPool, after: int, wanted: EventFilter, positions: int = PAGE_POSITIONS
) -> Page:
    """The events `wanted` matches among the `positions` after cursor `after`, and the cursor
    to read on from (past the events the filter left out); OUT_OF_RANGE when events after
    `after` have been pruned."""
    params = {
        "after": after,
        "before": after + positions,
        "skus": list(wanted.skus),
        "locations": list(wanted.locations),
        "channels": list(wanted.channels),
        "channel_locations": list(wanted.channel_locations),
        "types": list(wanted.types),
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
    # The snapshot saw every position up to its last one: the range read is complete to there.
    return events, max(after, min(after + positions, rows[0]["last_position"]))


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


class EventFeed:
    """The process's sequencer and the wake-ups of its streams; start() at server start."""

    def __init__(self, pool: AsyncPool, connect: Connect, interval: float) -> None:
        self._pool = pool
        self._connect = connect
        self._interval = interval
        self._positioned = _Signal()
        # Tailing streams of one process read the same pages: one read per page and filter,
        # shared for a moment (see _read), with when it was started.
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
            waiter = asyncio.ensure_future(self._positioned.wait(self._interval * 20))
            try:
                before = cursor
                events, cursor = await self._read(cursor, wanted)
                now = time.monotonic()
                if cursor == before and not caught_up:
                    caught_up = True
                    send = True
                else:
                    send = bool(events) or (cursor != reported and now - last_sent >= PROGRESS_SECONDS)
                if send:
                    yield events, cursor
                    reported, last_sent = cursor, now
                if cursor != before:
                    continue
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
        else:
            # A replay walks through pages nobody else asks for: keep none past its moment.
            stale = [key for key, (started, _) in self._pages.items() if now - started > PAGE_SHARE_SECONDS]
            for key in stale:
                del self._pages[key]
        key = (after, wanted)
        _, page = self._pages.get(key, (0.0, None))
        if page is None:
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
        # Positions given while away were never announced: every stream re-reads.
        await listen_forever(
            self._connect,
            Q.listen_stock_events,
            self._positioned.fire,
            lambda _: self._positioned.fire(),
            "stock events",
        )

    async def _sequence(self) -> None:
        backoff = BACKOFF_FIRST
        while not self._closed:
            try:
                positioned = await position_events(self._pool)
                backoff = BACKOFF_FIRST
            except Exception as exc:  # the database is away: try again
                log.warning("event sequencer pass failed", error=str(exc), retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            if positioned:
                # Local streams need not wait for the NOTIFY's round trip.
                self._positioned.fire()
            # A pass that found a full batch left more: go on at once.
            if positioned < SEQUENCER_BATCH:
                await asyncio.sleep(self._interval)

"""The event feed under load: hot and spread CreateHold while 4 consumers tail StreamStockEvents
(judged against the same scenarios without them), and one consumer catching up from the
oldest event kept."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import grpc
import psycopg
from holdfast.inventory.v1 import inventory_pb2 as pb
from holdfast.inventory.v1 import inventory_pb2_grpc

from bench.drivers import Targets, measure, open_inventory_channel
from bench.measurement import Measurement
from bench.skus import SkuSet
from tests.support.event_feed import settled_cursor

SCENARIOS = ("hot", "spread")
CONSUMERS = 4
# How long a tailing consumer may lag at the end before it counts as stuck.
DRAIN_SECONDS = 30.0


@dataclass(frozen=True)
class FeedResult:
    consumers: int
    # hot and spread measured right before and right after, without consumers: their mean is
    # the comparison, so the consumers' cost shows and not the run's drift (tables grow run
    # after run; this machine's speed wanders within minutes).
    alone: list[Measurement]
    # hot and spread with the consumers tailing.
    tailed: list[Measurement]
    # Events each consumer received while tailing (every one of them: no filter).
    tailed_events: list[int]
    # One consumer reading from the oldest event kept up to the last cursor at its start.
    catch_up_events: int
    catch_up_seconds: float
    alone_after: list[Measurement] = field(default_factory=list)

    def without_consumers(self) -> list[float]:
        """Per scenario, the rps to judge the tailed run by: the mean of the runs around it."""
        after = self.alone_after or self.alone
        return [(a.rps + b.rps) / 2 for a, b in zip(self.alone, after, strict=True)]

    @property
    def catch_up_rate(self) -> float:
        return self.catch_up_events / self.catch_up_seconds if self.catch_up_seconds else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "alone": [m.to_json() for m in self.alone],
            "tailed": [m.to_json() for m in self.tailed],
            "alone_after": [m.to_json() for m in self.alone_after],
            "catch_up_events_per_second": round(self.catch_up_rate),
        }


def last_cursor(database_url: str) -> int:
    """The last cursor given, once every committed event has one."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        return settled_cursor(conn, DRAIN_SECONDS)


class _Consumer(threading.Thread):
    """Streams every event after `after` until `until` (a cursor) or stop()."""

    def __init__(self, targets: Targets, after: int, until: int | None = None) -> None:
        super().__init__(daemon=True)
        self._targets, self._after, self.until = targets, after, until
        self.events = 0
        self.cursor = after
        self.error: str | None = None
        self._call: Any = None
        self._stopping = False

    def run(self) -> None:
        channel, metadata = open_inventory_channel(self._targets)
        with channel:
            stub = inventory_pb2_grpc.InventoryServiceStub(channel)
            self._call = stub.StreamStockEvents(
                pb.StreamStockEventsRequest(after_cursor=self._after), metadata=metadata
            )
            try:
                for message in self._call:
                    self.events += len(message.events)
                    self.cursor = message.cursor
                    if self.until is not None and self.cursor >= self.until:
                        self._call.cancel()
                        return
            except grpc.RpcError as error:
                if not self._stopping:
                    self.error = error.code().name

    def stop(self) -> None:
        self._stopping = True
        if self._call is not None:
            self._call.cancel()


def feed_under_load(
    database_url: str, targets: Targets, skus: SkuSet, *, concurrency: int, warmup: float, duration: float
) -> FeedResult:
    """hot and spread at `concurrency` alone, then again while CONSUMERS tail the whole feed,
    then alone again; then a catch-up read of every event kept (the earlier phases wrote them)."""
    alone: list[Measurement] = []
    tailed: list[Measurement] = []
    alone_after: list[Measurement] = []
    received: list[int] = []
    for scenario in SCENARIOS:
        alone.append(
            measure(scenario, concurrency, targets=targets, skus=skus, warmup=warmup, duration=duration)
        )
        start = last_cursor(database_url)
        consumers = [_Consumer(targets, start) for _ in range(CONSUMERS)]
        for consumer in consumers:
            consumer.start()
        try:
            tailed.append(
                measure(scenario, concurrency, targets=targets, skus=skus, warmup=warmup, duration=duration)
            )
            end = last_cursor(database_url)
            deadline = time.monotonic() + DRAIN_SECONDS
            while any(c.cursor < end for c in consumers) and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            for consumer in consumers:
                consumer.stop()
            for consumer in consumers:
                consumer.join()
        errors = [c.error for c in consumers if c.error]
        lagging = [c.cursor for c in consumers if c.cursor < end]
        if errors or lagging:
            raise RuntimeError(f"event consumers failed during {scenario}: {errors} lagging at {lagging}")
        received += [c.events for c in consumers]
        alone_after.append(
            measure(scenario, concurrency, targets=targets, skus=skus, warmup=warmup, duration=duration)
        )

    until = last_cursor(database_url)
    reader = _Consumer(targets, 0, until=until)
    started = time.perf_counter()
    reader.start()
    reader.join()
    seconds = time.perf_counter() - started
    if reader.error:
        raise RuntimeError(f"the catch-up read failed: {reader.error}")
    return FeedResult(CONSUMERS, alone, tailed, received, reader.events, seconds, alone_after)

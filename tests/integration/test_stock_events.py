"""StreamStockEvents: one event per ledger row, cursors in commit order that never skip a
transaction committing late, resuming at a cursor, filters, and the retention refusal."""

from __future__ import annotations

import functools
import itertools
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import grpc
import psycopg
import pytest
from holdfast.inventory.v1 import inventory_pb2 as pb

from holdfast_ops.audit import find_breaches
from inventory_svc.queries import Q
from sweeper.database import LazyPool
from sweeper.expiry import prune_stock_events
from tests.conftest import RunningInventory, make_settings, start_inventory
from tests.support.builders import hold_request
from tests.support.event_feed import settled_cursor
from tests.support.grpc_helpers import failure, new_request_id

DEADLINE = 30.0  # every stream ends by then, so a missing event fails the test, not the run


class Consumer:
    """One StreamStockEvents call, read event by event."""

    def __init__(self, inventory: RunningInventory, after: int = 0, **filters: list[str]) -> None:
        request = pb.StreamStockEventsRequest(after_cursor=after, **filters)
        self.call = inventory.stub.StreamStockEvents(request, timeout=DEADLINE)
        self._events = self._each()

    def _each(self) -> Iterator[pb.StockEvent]:
        for message in self.call:
            yield from message.events

    def take(self, n: int) -> list[pb.StockEvent]:
        return [next(self._events) for _ in range(n)]

    def cancel(self) -> None:
        self.call.cancel()


def adjust(inventory: RunningInventory, sku: str, delta: int, location: str = "") -> None:
    inventory.stub.AdjustStock(
        pb.AdjustStockRequest(
            request_id=new_request_id(),
            sku=sku,
            delta=delta,
            reason=pb.ADJUSTMENT_REASON_ADJUST,
            location=location,
        )
    )


def ledger_ids(db: psycopg.Connection, events: list[pb.StockEvent]) -> list[int]:
    rows = db.execute(
        "SELECT e.id::text, e.ledger_id FROM stock_events e WHERE e.id = ANY(%s::uuid[])",
        ([e.event_id for e in events],),
    ).fetchall()
    by_id: dict[str, int] = dict(rows)
    return [by_id[e.event_id] for e in events]


def test_every_change_is_one_event_with_the_levels_after(inventory, db) -> None:
    sku = inventory.client.sku(on_hand=10)
    hold = inventory.client.hold({sku: 3})
    inventory.stub.ReleaseHold(pb.ReleaseHoldRequest(request_id=new_request_id(), hold_id=hold.id))
    hold = inventory.client.hold({sku: 2})
    inventory.stub.CommitHold(pb.CommitHoldRequest(request_id=new_request_id(), hold_id=hold.id))
    adjust(inventory, sku, 5)

    consumer = Consumer(inventory, skus=[sku])
    events = consumer.take(6)
    consumer.cancel()
    assert [(e.event_type, e.sequence) for e in events] == [
        ("RECEIVE", 1),
        ("HOLD", 2),
        ("RELEASE", 3),
        ("HOLD", 4),
        ("COMMIT", 5),
        ("ADJUST", 6),
    ]
    assert [(e.stock_level.on_hand, e.stock_level.reserved, e.stock_level.available) for e in events] == [
        (10, 0, 10),
        (10, 3, 7),
        (10, 0, 10),
        (10, 2, 8),
        (8, 0, 8),
        (13, 0, 13),
    ]
    assert all(e.stock_level.location == "default" and e.stock_level.sku == sku for e in events)
    assert events[1].hold_id and events[1].hold_id == events[2].hold_id
    cursors = [e.cursor for e in events]
    assert cursors == sorted(cursors) and len(set(cursors)) == 6
    assert len({e.event_id for e in events}) == 6
    # Exactly one event per ledger row.
    count = db.execute("SELECT count(*) FROM stock_ledger WHERE sku = %s", (sku,)).fetchone()
    assert count is not None and count[0] == 6


def test_a_consumer_resumed_at_its_cursor_gets_every_event_once(inventory, db) -> None:
    sku = inventory.client.sku(on_hand=100)
    start = settled_cursor(db)
    for delta in range(1, 11):
        adjust(inventory, sku, delta)

    first = Consumer(inventory, after=start, skus=[sku])
    seen = first.take(4)
    first.cancel()  # killed after four

    for delta in range(11, 16):
        adjust(inventory, sku, delta)
    resumed = Consumer(inventory, after=seen[-1].cursor, skus=[sku])
    seen += resumed.take(11)
    # Nothing more arrives: the stream is live, so wait a little and expect silence.
    adjust(inventory, inventory.client.sku(), 1)
    resumed.cancel()

    assert [e.sequence for e in seen] == list(range(2, 17))  # 1 is the initial RECEIVE
    assert [e.stock_level.on_hand for e in seen] == [100 + sum(range(1, d + 1)) for d in range(1, 16)]
    assert len({e.event_id for e in seen}) == 15


def test_a_transaction_committing_late_is_never_skipped(inventory, db, database_url) -> None:
    """16 writers commit while one transaction holds its change open for seconds; a consumer
    tailing all along gets every event, the late one after those committed before it."""
    skus = [inventory.client.sku(on_hand=1000) for _ in range(16)]
    late_sku = inventory.client.sku(on_hand=1000)
    start = settled_cursor(db)
    consumer = Consumer(inventory, after=start, skus=[*skus, late_sku])

    late = psycopg.connect(database_url)
    late.execute("SELECT on_hand FROM stock WHERE sku = %s FOR UPDATE", (late_sku,))
    late.execute(
        Q.apply_adjustment,
        {
            "sku": late_sku,
            "location": "default",
            "delta": 7,
            "reason": "ADJUST",
            "request_id": "late",
            "note": "",
        },
    )
    per_writer = 10

    def write(sku: str) -> None:
        for _ in range(per_writer):
            adjust(inventory, sku, 1)

    writers = [threading.Thread(target=write, args=(sku,)) for sku in skus]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    # Everything the writers did is delivered while the late transaction is still open.
    early = consumer.take(16 * per_writer)
    time.sleep(2)
    late.commit()
    late.close()
    more = consumer.take(1)
    consumer.cancel()

    events = early + more
    assert more[0].stock_level.sku == late_sku and more[0].request_id == "late"
    cursors = [e.cursor for e in events]
    assert cursors == sorted(cursors) and len(set(cursors)) == len(cursors)
    assert more[0].cursor > max(e.cursor for e in early)
    # ... although it was written first: insert order is not commit order.
    assert ledger_ids(db, more)[0] < min(ledger_ids(db, early))
    # The consumer's events are the ledger's rows of these SKUs, each exactly once.
    ledger = db.execute(
        "SELECT id FROM stock_ledger WHERE sku = ANY(%s) AND reason = 'ADJUST' ORDER BY id",
        ([*skus, late_sku],),
    ).fetchall()
    assert sorted(ledger_ids(db, events)) == [r[0] for r in ledger]
    for sku in skus:
        mine = [e for e in events if e.stock_level.sku == sku]
        assert [e.sequence for e in mine] == list(range(2, 2 + per_writer))
        assert [e.stock_level.on_hand for e in mine] == list(range(1001, 1001 + per_writer))


def test_filters(inventory, db) -> None:
    a, b = inventory.client.sku(on_hand=5), inventory.client.sku(on_hand=5)
    start = settled_cursor(db)
    inventory.client.hold({a: 1, b: 1})
    adjust(inventory, a, 2)
    adjust(inventory, b, 3)

    by_sku = Consumer(inventory, after=start, skus=[b])
    assert [(e.stock_level.sku, e.event_type) for e in by_sku.take(2)] == [(b, "HOLD"), (b, "ADJUST")]
    by_sku.cancel()
    by_type = Consumer(inventory, after=start, skus=[a, b], event_types=["ADJUST"])
    assert [(e.stock_level.sku, e.stock_level.on_hand) for e in by_type.take(2)] == [(a, 7), (b, 8)]
    by_type.cancel()
    by_location = Consumer(inventory, after=start, skus=[a], locations=["default"])
    assert [e.event_type for e in by_location.take(2)] == ["HOLD", "ADJUST"]
    by_location.cancel()


def test_a_cursor_older_than_the_retention_is_out_of_range(inventory, db, database_url) -> None:
    sku = inventory.client.sku(on_hand=5)
    start = settled_cursor(db)
    adjust(inventory, sku, 1)
    last = settled_cursor(db)
    lazy = LazyPool(make_settings(database_url).database)
    try:
        pruned = prune_stock_events(
            lazy.get(), retention=timedelta(0), batch_size=1000, deadline=time.monotonic() + 10
        )
    finally:
        lazy.close()
    assert pruned > 0

    with pytest.raises(grpc.RpcError) as caught:
        Consumer(inventory, after=start, skus=[sku]).take(1)
    refused = failure(caught.value)
    assert refused.code == grpc.StatusCode.OUT_OF_RANGE
    assert refused.reason == "CURSOR_EXPIRED"
    assert refused.metadata["oldest_cursor"] == str(last)

    # From the oldest cursor on, the feed goes on.
    adjust(inventory, sku, 2)
    consumer = Consumer(inventory, after=last, skus=[sku])
    assert consumer.take(1)[0].stock_level.on_hand == 8
    consumer.cancel()


def set_threshold(inventory: RunningInventory, sku: str, low_stock_at: int, location: str = "") -> None:
    inventory.stub.SetStockThreshold(
        pb.SetStockThresholdRequest(
            request_id=new_request_id(),
            threshold=pb.StockThreshold(sku=sku, location=location, low_stock_at=low_stock_at),
        )
    )


def test_thresholds_give_one_event_per_crossing_under_concurrent_holds(inventory, db) -> None:
    sku = inventory.client.sku(on_hand=20)
    set_threshold(inventory, sku, 5)
    start = settled_cursor(db)
    holds: list[str] = []
    lock = threading.Lock()

    def hold() -> None:
        made = inventory.client.hold({sku: 1})
        with lock:
            holds.append(made.id)

    # 20 -> 0 available: crossing 5 once on the way down.
    threads = [threading.Thread(target=hold) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    def release(hold_id: str) -> None:
        inventory.stub.ReleaseHold(pb.ReleaseHoldRequest(request_id=new_request_id(), hold_id=hold_id))

    # 0 -> 20: crossing back above 5 once.
    threads = [threading.Thread(target=release, args=(h,)) for h in holds]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    consumer = Consumer(inventory, after=start, skus=[sku])
    events = consumer.take(42)
    consumer.cancel()
    crossings = [e for e in events if e.event_type in ("LOW_STOCK", "BACK_IN_STOCK")]
    assert [(e.event_type, e.low_stock_at) for e in crossings] == [("LOW_STOCK", 5), ("BACK_IN_STOCK", 5)]
    low, back = crossings
    assert low.stock_level.available <= 5 < back.stock_level.available
    # Each follows the change that crossed: the one before it left available on its side.
    before_low = events[events.index(low) - 1]
    assert before_low.event_type == "HOLD" and before_low.stock_level.available == low.stock_level.available
    assert [e.sequence for e in events] == list(range(events[0].sequence, events[0].sequence + 42))
    # Only crossings, by type.
    only = Consumer(inventory, after=start, skus=[sku], event_types=["LOW_STOCK", "BACK_IN_STOCK"])
    assert [e.event_type for e in only.take(2)] == ["LOW_STOCK", "BACK_IN_STOCK"]
    only.cancel()


def run_concurrently(calls: list[Callable[[], None]]) -> None:
    threads = [threading.Thread(target=call) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_a_channel_threshold_gives_one_event_per_crossing_of_its_total(inventory, db) -> None:
    """A channel over two locations, 10 units at each and a threshold of 5 on its total:
    20 concurrent holds through the channel (spread over both locations) cross it once on
    the way down, 20 concurrent releases once on the way back; no location is judged."""
    places = [f"ch-loc-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for code in places:
        inventory.stub.CreateLocation(pb.CreateLocationRequest(location=pb.Location(code=code, name=code)))
    channel = inventory.stub.CreateChannel(
        pb.CreateChannelRequest(
            channel=pb.Channel(
                code=f"ch-{uuid.uuid4().hex[:8]}",
                name="Web",
                location_codes=places,
                strategy=pb.ALLOCATION_STRATEGY_MOST_AVAILABLE,
            )
        )
    ).channel
    sku = inventory.client.sku(on_hand=0)
    for code in places:
        adjust(inventory, sku, 10, location=code)
    inventory.stub.SetStockThreshold(
        pb.SetStockThresholdRequest(
            request_id=new_request_id(),
            threshold=pb.StockThreshold(sku=sku, channel=channel.id, low_stock_at=5),
        )
    )
    start = settled_cursor(db)
    holds: list[str] = []
    lock = threading.Lock()

    def hold() -> None:
        request = hold_request({sku: 1})
        request.channel = channel.code
        made = inventory.stub.CreateHold(request).hold
        with lock:
            holds.append(made.id)

    def release(hold_id: str) -> None:
        inventory.stub.ReleaseHold(pb.ReleaseHoldRequest(request_id=new_request_id(), hold_id=hold_id))

    run_concurrently([hold] * 20)
    run_concurrently([functools.partial(release, h) for h in holds])

    consumer = Consumer(inventory, after=start, channels=[channel.code])
    events = consumer.take(42)
    consumer.cancel()
    crossings = [e for e in events if e.event_type in ("LOW_STOCK", "BACK_IN_STOCK")]
    assert [(e.event_type, e.channel, e.low_stock_at) for e in crossings] == [
        ("LOW_STOCK", channel.code, 5),
        ("BACK_IN_STOCK", channel.code, 5),
    ]
    low, back = crossings
    assert low.stock_level.available <= 5 < back.stock_level.available
    assert (low.stock_level.location, low.stock_level.sku) == ("", sku)
    assert [low.sequence, back.sequence] == [1, 2]
    # The channel's filter: the events at its locations and its own crossings, nothing else.
    assert {e.stock_level.location for e in events} == {*places, ""}
    assert sum(e.event_type == "HOLD" for e in events) == 20
    # A channel nobody has made is NOT_FOUND, naming the field.
    with pytest.raises(grpc.RpcError) as caught:
        Consumer(inventory, after=start, channels=["default", "no-such-channel"]).take(1)
    refused = failure(caught.value)
    assert refused.code == grpc.StatusCode.NOT_FOUND
    assert refused.metadata == {"channels[1]": "no-such-channel"}


def test_a_location_override_beats_the_variant_default(inventory, db) -> None:
    sku = inventory.client.sku(on_hand=10)
    set_threshold(inventory, sku, 8)
    set_threshold(inventory, sku, 2, location="default")
    start = settled_cursor(db)
    adjust(inventory, sku, -7)  # 3 available: below 8, above the override's 2
    adjust(inventory, sku, -1)  # 2: the override's crossing
    consumer = Consumer(inventory, after=start, skus=[sku])
    assert [(e.event_type, e.stock_level.available) for e in consumer.take(3)] == [
        ("ADJUST", 3),
        ("ADJUST", 2),
        ("LOW_STOCK", 2),
    ]
    consumer.cancel()


def test_watch_stock_levels_resumes_after_a_cursor(inventory, db) -> None:
    a, b, c = (inventory.client.sku(on_hand=10) for _ in range(3))
    start = settled_cursor(db)
    adjust(inventory, a, 1)
    adjust(inventory, b, 2)
    adjust(inventory, a, 3)
    settled_cursor(db)  # every change positioned: the replay below has them all

    def watch(after: int) -> Iterator[pb.WatchStockLevelsResponse]:
        """The levels, without the messages that only report progress."""
        request = pb.WatchStockLevelsRequest(skus=[a, b, c], after_cursor=after)
        call = inventory.stub.WatchStockLevels(request, timeout=DEADLINE)
        calls.append(call)
        return (m for m in call if m.HasField("stock_level"))

    calls: list[Any] = []

    # Only the SKUs that changed after the cursor, at their current levels (c did not change),
    # up to the message saying the replay has caught up.
    request = pb.WatchStockLevelsRequest(skus=[a, b, c], after_cursor=start)
    call = inventory.stub.WatchStockLevels(request, timeout=DEADLINE)
    replayed = list(itertools.takewhile(lambda m: m.HasField("stock_level"), call))
    call.cancel()
    assert {(m.stock_level.sku, m.stock_level.on_hand) for m in replayed} == {(a, 14), (b, 12)}
    cursor = replayed[-1].cursor
    assert cursor > start

    # Resumed at the last message's cursor: the change made meanwhile, nothing before it.
    adjust(inventory, c, 5)
    call = watch(cursor)
    message = next(call)
    assert (message.stock_level.sku, message.stock_level.on_hand) == (c, 15)
    adjust(inventory, b, 1)  # then live
    message = next(call)
    assert (message.stock_level.sku, message.stock_level.on_hand) == (b, 13)
    calls[-1].cancel()

    # Without after_cursor, nothing changes: every SKU's level first, no cursor.
    call = inventory.stub.WatchStockLevels(pb.WatchStockLevelsRequest(skus=[a]), timeout=DEADLINE)
    message = next(call)
    assert (message.stock_level.on_hand, message.cursor) == (14, 0)
    call.cancel()


def test_set_stock_threshold_answers_a_retry_as_the_first_call(inventory) -> None:
    sku = inventory.client.sku(on_hand=3)
    request = pb.SetStockThresholdRequest(
        request_id=new_request_id(), threshold=pb.StockThreshold(sku=sku, low_stock_at=2)
    )
    first = inventory.stub.SetStockThreshold(request)
    again = inventory.stub.SetStockThreshold(request)
    assert first == again
    assert (first.threshold.sku, first.threshold.location, first.threshold.low_stock_at) == (sku, "", 2)
    assert first.threshold.HasField("update_time")
    override = inventory.stub.SetStockThreshold(
        pb.SetStockThresholdRequest(
            request_id=new_request_id(),
            threshold=pb.StockThreshold(sku=sku, location="default", low_stock_at=1),
        )
    )
    assert override.threshold.location == "default"


def test_two_replicas_sequence_one_feed(inventory, db, database_url) -> None:
    """Each replica runs a sequencer; the advisory lock keeps one pass at a time, so writes
    through both come out once each, with dense cursors, on a stream from either."""
    other = start_inventory(make_settings(database_url))
    try:
        skus = [inventory.client.sku(on_hand=100) for _ in range(8)]
        start = settled_cursor(db)

        def write(server: RunningInventory, sku: str) -> None:
            for _ in range(10):
                adjust(server, sku, 1)

        threads = [
            threading.Thread(target=write, args=(inventory if n % 2 else other, sku))
            for n, sku in enumerate(skus)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        consumer = Consumer(other, after=start, skus=skus)
        events = consumer.take(80)
        consumer.cancel()
        cursors = [e.cursor for e in events]
        assert cursors == sorted(cursors) and len(set(cursors)) == 80
        assert len({e.event_id for e in events}) == 80
        for sku in skus:
            assert [e.stock_level.on_hand for e in events if e.stock_level.sku == sku] == list(
                range(101, 111)
            )
    finally:
        other.stop()


def test_pruning_keeps_everything_from_the_first_young_event_on(inventory, db, database_url) -> None:
    sku = inventory.client.sku(on_hand=1)
    for _ in range(5):
        adjust(inventory, sku, 1)
    settled_cursor(db)
    rows = db.execute("SELECT position FROM stock_events WHERE sku = %s ORDER BY position", (sku,)).fetchall()
    positions = [r[0] for r in rows]
    # The first two and the fourth are a day old; the third is young, so it and all after it stay.
    db.execute(
        "UPDATE stock_events SET create_time = now() - interval '1 day'"
        " WHERE position <= %s OR position = %s",
        (positions[1], positions[3]),
    )
    # The module's earlier events go as a prune would take them (lowest first), so this prune
    # starts at this SKU's.
    db.execute("DELETE FROM stock_events WHERE position < %s", (positions[0],))
    lazy = LazyPool(make_settings(database_url).database)
    try:
        pruned = prune_stock_events(
            lazy.get(), retention=timedelta(hours=1), batch_size=1, deadline=time.monotonic() + 10
        )
    finally:
        lazy.close()
    assert pruned == 2
    kept = db.execute("SELECT position FROM stock_events WHERE sku = %s ORDER BY position", (sku,)).fetchall()
    assert [r[0] for r in kept] == positions[2:]
    mark = db.execute("SELECT pruned_through FROM stock_event_cursor").fetchone()
    assert mark is not None and mark[0] == positions[1]


def test_the_audit_finds_one_event_per_ledger_row_and_dense_cursors(inventory, db, database_url) -> None:
    """Run last in the module: after every write and prune above."""
    settled_cursor(db)
    assert find_breaches(database_url) == {}

"""WatchStockLevels: first levels, one message per change whatever made it, one LISTEN
connection per process, a lost listener connection, and cancelled streams."""

from __future__ import annotations

import time
from collections.abc import Iterator

import grpc
import psycopg
import pytest
from holdfast.inventory.v1 import inventory_pb2 as pb

from inventory_svc import servicer as servicer_module
from inventory_svc.queries import Q
from inventory_svc.stock_events import APPLICATION_NAME, StockEvents
from sweeper.database import LazyPool
from sweeper.expiry import expire_overdue_holds
from tests.conftest import RunningInventory, make_settings, start_inventory
from tests.support.grpc_helpers import new_request_id, refusal
from tests.support.polling import wait_until

DEADLINE = 20.0  # every stream ends by then, so a missing message fails the test, not the run
Level = tuple[str, int, int, int]


@pytest.fixture(scope="module")
def served(database_url: str) -> Iterator[tuple[RunningInventory, StockEvents]]:
    """The inventory service and its StockEvents, to look at its subscriptions."""
    created: list[StockEvents] = []

    class Recorded(StockEvents):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            created.append(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(servicer_module, "StockEvents", Recorded)
        server = start_inventory(make_settings(database_url))
    yield server, created[0]
    server.stop()


@pytest.fixture(scope="module")
def inventory(served) -> RunningInventory:
    return served[0]


class Watch:
    def __init__(self, inventory: RunningInventory, *skus: str) -> None:
        self.call = inventory.stub.WatchStockLevels(pb.WatchStockLevelsRequest(skus=skus), timeout=DEADLINE)

    def next(self) -> Level:
        level = next(self.call).stock_level
        return (level.sku, level.on_hand, level.reserved, level.available)


def adjust(inventory: RunningInventory, sku: str, delta: int) -> None:
    inventory.stub.AdjustStock(
        pb.AdjustStockRequest(
            request_id=new_request_id(), sku=sku, delta=delta, reason=pb.ADJUSTMENT_REASON_ADJUST
        )
    )


def listener_pids(db: psycopg.Connection) -> list[int]:
    rows = db.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s",
        (APPLICATION_NAME,),
    ).fetchall()
    return [r[0] for r in rows]


def test_first_levels_then_one_message_per_change(inventory) -> None:
    a, b = inventory.client.sku(on_hand=10), inventory.client.sku(on_hand=5)
    watch = Watch(inventory, b, a)
    assert [watch.next(), watch.next()] == [(b, 5, 0, 5), (a, 10, 0, 10)]  # the request's order

    hold = inventory.client.hold({a: 3})
    assert watch.next() == (a, 10, 3, 7)
    inventory.stub.ReleaseHold(pb.ReleaseHoldRequest(request_id=new_request_id(), hold_id=hold.id))
    assert watch.next() == (a, 10, 0, 10)

    hold = inventory.client.hold({a: 2, b: 1})
    assert {watch.next(), watch.next()} == {(a, 10, 2, 8), (b, 5, 1, 4)}
    inventory.stub.CommitHold(pb.CommitHoldRequest(request_id=new_request_id(), hold_id=hold.id))
    assert {watch.next(), watch.next()} == {(a, 8, 0, 8), (b, 4, 0, 4)}

    adjust(inventory, b, 6)
    assert watch.next() == (b, 10, 0, 10)
    watch.call.cancel()


def test_an_expired_hold_shows_when_it_is_reclaimed(inventory, database_url) -> None:
    a, b, c = (inventory.client.sku(on_hand=10) for _ in range(3))
    watch = Watch(inventory, a, c)
    assert [watch.next(), watch.next()] == [(a, 10, 0, 10), (c, 10, 0, 10)]
    inventory.client.hold({a: 2, b: 1}, ttl_seconds=1)
    inventory.client.hold({c: 4}, ttl_seconds=1)
    assert {watch.next(), watch.next()} == {(a, 10, 2, 8), (c, 10, 4, 6)}
    time.sleep(1.1)

    # The reserve path: a hold on b reclaims the overdue hold it shares with a.
    inventory.client.hold({b: 1})
    assert watch.next() == (a, 10, 0, 10)
    # The sweeper: the one on c.
    lazy = LazyPool(make_settings(database_url).database)
    try:
        expired, _ = expire_overdue_holds(lazy.get(), batch_size=10, deadline=time.monotonic() + 10)
    finally:
        lazy.close()
    assert expired == 1
    assert watch.next() == (c, 10, 0, 10)
    watch.call.cancel()


def test_refusals_come_before_any_message(inventory) -> None:
    known = inventory.client.sku()

    def first(request: pb.WatchStockLevelsRequest) -> None:
        next(inventory.stub.WatchStockLevels(request, timeout=DEADLINE))

    unknown = refusal(first, pb.WatchStockLevelsRequest(skus=[known, "NO-SUCH-SKU"]))
    assert (unknown.code, unknown.reason) == (grpc.StatusCode.NOT_FOUND, "SKU_NOT_FOUND")
    assert unknown.metadata["skus"] == "NO-SUCH-SKU"
    empty = refusal(first, pb.WatchStockLevelsRequest())
    assert empty.code == grpc.StatusCode.INVALID_ARGUMENT
    assert empty.field_violations == [("skus", "must name at least one SKU")]


def test_streams_share_one_listen_connection(inventory, db) -> None:
    skus = [inventory.client.sku(on_hand=3) for _ in range(4)]
    watches = [Watch(inventory, sku) for sku in skus]
    assert [w.next() for w in watches] == [(s, 3, 0, 3) for s in skus]
    assert len(listener_pids(db)) == 1
    adjust(inventory, skus[2], 1)
    assert watches[2].next() == (skus[2], 4, 0, 4)
    for w in watches:
        w.call.cancel()


def test_a_lost_listener_connection_loses_no_change(inventory, db, database_url) -> None:
    sku = inventory.client.sku(on_hand=10)
    watch = Watch(inventory, sku)
    assert watch.next() == (sku, 10, 0, 10)
    (old_pid,) = listener_pids(db)

    # A change that commits while nobody listens: its NOTIFY reaches no one.
    with psycopg.connect(database_url, autocommit=True) as conn, conn.transaction():
        conn.execute(
            Q.apply_adjustment,
            {
                "sku": sku,
                "location": "default",
                "delta": 1,
                "reason": "ADJUST",
                "request_id": None,
                "note": "in the gap",
            },
        )
        conn.execute("SELECT pg_terminate_backend(%s)", (old_pid,))
        wait_until(lambda: old_pid not in listener_pids(db), 5, "the listener's backend to end")
    assert watch.next() == (sku, 11, 0, 11)  # found by the re-read after reconnecting

    wait_until(lambda: len(listener_pids(db)) == 1, 10, "the listener to reconnect")
    assert listener_pids(db) != [old_pid]
    adjust(inventory, sku, 2)
    assert watch.next() == (sku, 13, 0, 13)
    watch.call.cancel()


def test_a_cancelled_stream_releases_its_subscription(served) -> None:
    inventory, events = served
    wait_until(lambda: events.subscriber_count == 0, 5, "earlier streams to unsubscribe")
    sku = inventory.client.sku()
    watches = [Watch(inventory, sku) for _ in range(2)]
    for w in watches:
        w.next()
    assert events.subscriber_count == 2
    watches[0].call.cancel()
    wait_until(lambda: events.subscriber_count == 1, 5, "the cancelled stream to unsubscribe")
    adjust(inventory, sku, 1)
    assert watches[1].next() == (sku, 11, 0, 11)
    watches[1].call.cancel()
    wait_until(lambda: events.subscriber_count == 0, 5, "the last stream to unsubscribe")

"""Concurrent calls against one server: no oversell, no deadlock, exactly-once effects."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterator

import grpc
import pytest
from holdfast.inventory.v1 import inventory_pb2 as pb
from holdfast.inventory.v1 import inventory_pb2_grpc as pb_grpc

from holdfast_ops.audit import find_breaches
from tests.conftest import make_settings, start_inventory
from tests.support.builders import hold_request
from tests.support.grpc_helpers import RpcFailure, failure, new_request_id

CALL_TIMEOUT = 60
CHANNELS = 8


@pytest.fixture(scope="module")
def stubs(inventory) -> Iterator[list[pb_grpc.InventoryServiceStub]]:
    """Several channels to the module's server, so calls really travel side by side."""
    target = f"127.0.0.1:{inventory.port}"
    # A distinct channel arg keeps gRPC from sharing one subchannel between them.
    channels = [grpc.insecure_channel(target, options=[("test.channel", i)]) for i in range(CHANNELS)]
    yield [pb_grpc.InventoryServiceStub(c) for c in channels]
    for channel in channels:
        channel.close()


def outcomes(futures: list[grpc.Future]) -> tuple[list, list]:
    """(responses, failures) of every future, waiting for all of them."""
    ok, failed = [], []
    for future in futures:
        try:
            ok.append(future.result())
        except grpc.RpcError as error:
            failed.append(failure(error))
    return ok, failed


def in_flight_together(futures: list[grpc.Future]) -> None:
    """Fails unless the calls were still running after they were all sent."""
    assert sum(1 for f in futures if not f.done()) > 1, "the calls did not overlap"


def test_flash_sale_sells_exactly_the_stock(inventory, stubs, database_url):
    sku = inventory.client.sku(on_hand=50)
    futures = [
        stubs[i % CHANNELS].CreateHold.future(hold_request([(sku, 1)]), timeout=CALL_TIMEOUT)
        for i in range(500)
    ]
    in_flight_together(futures)
    ok, failed = outcomes(futures)

    assert len(ok) == 50
    assert len({r.hold.id for r in ok}) == 50
    assert all(r.hold.state == pb.HOLD_STATE_ACTIVE for r in ok)
    assert len(failed) == 450
    assert {(f.code, f.reason) for f in failed} == {
        (grpc.StatusCode.FAILED_PRECONDITION, "INSUFFICIENT_STOCK")
    }
    assert all(f.metadata["sku"] == sku and f.metadata["available"] == "0" for f in failed)

    level = inventory.client.level(sku)
    assert (level.on_hand, level.reserved, level.available) == (50, 50, 0)
    assert find_breaches(database_url) == {}


def test_overlapping_carts_never_deadlock_or_oversell(database_url, db):
    # A server of its own: when it stops, its sessions exit and flush their
    # statistics, so the database's deadlock counter can be read exactly.
    others = _service_sessions(db)
    server = start_inventory(make_settings(database_url))
    try:
        client = server.client
        skus = sorted(client.sku(on_hand=40, prefix=f"CART{i}") for i in range(8))
        deadlocks_before = _deadlocks(db)
        rng = random.Random(7)
        carts = []
        for i in range(160):
            lines = [(s, rng.randint(1, 3)) for s in rng.sample(skus, 5)]
            lines.sort(reverse=i % 2 == 1)  # half ascending, half descending
            carts.append(lines)
        channels = [grpc.insecure_channel(client.target, options=[("test.channel", i)]) for i in range(4)]
        try:
            stubs = [pb_grpc.InventoryServiceStub(c) for c in channels]
            futures = [
                stubs[i % len(stubs)].CreateHold.future(hold_request(cart), timeout=CALL_TIMEOUT)
                for i, cart in enumerate(carts)
            ]
            in_flight_together(futures)
            results: list[tuple[list[tuple[str, int]], pb.CreateHoldResponse | None, RpcFailure | None]] = []
            for cart, future in zip(carts, futures, strict=True):
                try:
                    results.append((cart, future.result(), None))
                except grpc.RpcError as error:
                    results.append((cart, None, failure(error)))
        finally:
            for channel in channels:
                channel.close()

        refusals = Counter((f.code, f.reason) for _, _, f in results if f is not None)
        assert set(refusals) <= {(grpc.StatusCode.FAILED_PRECONDITION, "INSUFFICIENT_STOCK")}, refusals
        held: Counter[str] = Counter()
        for cart, response, _ in results:
            if response is not None:
                assert [(x.sku, x.quantity) for x in response.hold.lines] == sorted(cart)
                for sku, quantity in cart:
                    held[sku] += quantity
        successes = sum(1 for _, r, _ in results if r is not None)
        # Demand is about twice the stock: both outcomes must occur.
        assert 0 < successes < len(carts)
        levels = {
            x.sku: x for x in client.stub.BatchGetStockLevels(pb.BatchGetStockLevelsRequest(skus=skus)).levels
        }
        for sku in skus:
            assert levels[sku].reserved == held[sku], sku
            assert levels[sku].available >= 0
        assert sum(x.reserved for x in levels.values()) == sum(held.values())
    finally:
        server.stop()
    assert _deadlocks(db, wait_for_exit_except=others) == deadlocks_before
    assert find_breaches(database_url) == {}


def test_create_hold_retries_reserve_once(inventory, stubs, db):
    sku = inventory.client.sku(on_hand=100)

    # Sequential retries of one request.
    request = hold_request([(sku, 3)])
    first = stubs[0].CreateHold(request, timeout=CALL_TIMEOUT)
    retries = [stubs[i].CreateHold(request, timeout=CALL_TIMEOUT) for i in range(1, 4)]
    assert all(r == first for r in retries)
    assert inventory.client.level(sku).reserved == 3

    # Twenty copies of another request at once.
    request = hold_request([(sku, 4)])
    futures = [stubs[i % CHANNELS].CreateHold.future(request, timeout=CALL_TIMEOUT) for i in range(20)]
    in_flight_together(futures)
    ok, failed = outcomes(futures)
    assert failed == []
    assert len({r.hold.id for r in ok}) == 1
    assert first.hold.id not in {r.hold.id for r in ok}
    assert all(r == ok[0] for r in ok)
    assert inventory.client.level(sku).reserved == 3 + 4
    (holds,) = db.execute(
        "SELECT count(DISTINCT hold_id) FROM stock_ledger WHERE sku = %s AND reason = 'HOLD'", (sku,)
    ).fetchone()
    assert holds == 2


def test_commit_retries_commit_once(inventory, stubs, db):
    sku = inventory.client.sku(on_hand=10)
    hold = inventory.client.hold({sku: 4})
    request = pb.CommitHoldRequest(request_id=new_request_id(), hold_id=hold.id)
    futures = [stubs[i % CHANNELS].CommitHold.future(request, timeout=CALL_TIMEOUT) for i in range(20)]
    in_flight_together(futures)
    ok, failed = outcomes(futures)
    assert failed == []
    assert ok[0].hold.state == pb.HOLD_STATE_COMMITTED
    assert ok[0].hold.HasField("end_time")
    assert all(r == ok[0] for r in ok)
    level = inventory.client.level(sku)
    assert (level.on_hand, level.reserved, level.available) == (6, 0, 6)
    (commits,) = db.execute(
        "SELECT count(*) FROM stock_ledger WHERE hold_id = %s AND reason = 'COMMIT'", (hold.id,)
    ).fetchone()
    assert commits == 1
    # A later retry still answers with the first response.
    assert stubs[0].CommitHold(request, timeout=CALL_TIMEOUT) == ok[0]


def test_commit_racing_release_has_one_winner(inventory, stubs):
    sku = inventory.client.sku(on_hand=40)
    holds = [inventory.client.hold({sku: 2}) for _ in range(12)]
    races = []
    for i, hold in enumerate(holds):
        commit = stubs[(2 * i) % CHANNELS].CommitHold.future(
            pb.CommitHoldRequest(request_id=new_request_id(), hold_id=hold.id), timeout=CALL_TIMEOUT
        )
        release = stubs[(2 * i + 1) % CHANNELS].ReleaseHold.future(
            pb.ReleaseHoldRequest(request_id=new_request_id(), hold_id=hold.id), timeout=CALL_TIMEOUT
        )
        races.append((hold, commit, release))
    in_flight_together([f for _, c, r in races for f in (c, r)])

    committed = 0
    for hold, commit, release in races:
        ok, failed = outcomes([commit, release])
        assert len(ok) == 1 and len(failed) == 1, hold.id
        (loss,) = failed
        assert (loss.code, loss.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "HOLD_NOT_ACTIVE")
        (winner,) = ok
        assert loss.metadata["hold_id"] == hold.id
        final = inventory.stub.GetHold(pb.GetHoldRequest(id=hold.id)).hold
        assert final == winner.hold
        assert final.state in (pb.HOLD_STATE_COMMITTED, pb.HOLD_STATE_RELEASED)
        assert loss.metadata["state"] == pb.HoldState.Name(final.state).removeprefix("HOLD_STATE_")
        committed += final.state == pb.HOLD_STATE_COMMITTED

    level = inventory.client.level(sku)
    assert (level.on_hand, level.reserved) == (40 - 2 * committed, 0)


def _service_sessions(db) -> set[int]:
    rows = db.execute(
        "SELECT pid FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name = 'inventory_svc'"
    ).fetchall()
    return {pid for (pid,) in rows}


def _deadlocks(db, *, wait_for_exit_except: set[int] | None = None) -> int:
    """The database's deadlock count; optionally once every service session not in the
    given set (the module's shared server) has exited and so flushed its statistics."""
    if wait_for_exit_except is not None:
        deadline = time.monotonic() + 10
        while not _service_sessions(db) <= wait_for_exit_except:
            assert time.monotonic() < deadline, "the stopped server's sessions did not end"
            time.sleep(0.05)
    db.execute("SELECT pg_stat_clear_snapshot()")
    (count,) = db.execute(
        "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
    ).fetchone()
    return count

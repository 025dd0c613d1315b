"""Faults a shopper's call can meet and what it then sees: a stock row locked elsewhere, a
client deadline shorter than the work, pricing_svc hung or gone.

What each test proves is what docs/operations.md's "Failure behaviour" section promises. PostgreSQL
restarts are in test_pg_restart.py, SIGTERM in test_lifecycle.py; that a call stuck on one
SKU's lock does not slow carts for other SKUs is test_coalescing.py's
test_a_batch_stuck_on_a_lock_does_not_hold_up_carts_for_other_skus.
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import psycopg
import pytest
from holdfast.inventory.v1 import inventory_pb2 as pb

from holdfast_ops.audit import find_breaches
from tests.conftest import RunningInventory, make_settings, start_inventory
from tests.support.builders import hold_request
from tests.support.grpc_helpers import failure, new_request_id
from tests.support.polling import wait_until
from tests.support.row_locks import lock_waiters, row_locked, service_sessions
from tests.support.service_process import ServiceProcess

LOCK_TIMEOUT_MS = 300
PRICING_TIMEOUT = 1.0
CALL_TIMEOUT = 30
# A bound "well before" a timeout: 5x it, room for a loaded 2-core machine.
SLACK = 5


def timed_refusal(call: Callable[..., Any], request: Any, timeout: float = CALL_TIMEOUT) -> tuple[Any, float]:
    """Makes a call that must fail; returns how it failed and how long it took."""
    started = time.monotonic()
    try:
        call(request, timeout=timeout)
    except grpc.RpcError as error:
        return failure(error), time.monotonic() - started
    raise AssertionError(f"{type(request).__name__} was not refused")


def holds_made(db: psycopg.Connection, owner_id: str) -> tuple[int, int, int]:
    """The holds of an owner, their lines, and their HOLD ledger rows."""
    row = db.execute(
        "SELECT count(DISTINCT h.id), count(l.sku),"
        " (SELECT count(*) FROM stock_ledger g JOIN holds x ON x.id = g.hold_id"
        "  WHERE x.owner_id = %(owner)s AND g.reason = 'HOLD')"
        " FROM holds h LEFT JOIN hold_lines l ON l.hold_id = h.id WHERE h.owner_id = %(owner)s",
        {"owner": owner_id},
    ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def ledger_rows(db: psycopg.Connection, request_id: str) -> int:
    row = db.execute("SELECT count(*) FROM stock_ledger WHERE request_id = %s", (request_id,)).fetchone()
    assert row is not None
    return int(row[0])


@contextlib.contextmanager
def rows_locked(database_url: str, sku: str, hold_id: str) -> Iterator[None]:
    """A stock row and a hold row locked by another session until the block ends."""
    with psycopg.connect(database_url) as conn:
        conn.execute("SELECT 1 FROM stock WHERE sku = %s FOR UPDATE", (sku,))
        conn.execute("SELECT 1 FROM holds WHERE id = %s FOR UPDATE", (hold_id,))
        yield
        conn.rollback()


@pytest.fixture(scope="module")
def impatient_inventory(database_url: str) -> Iterator[RunningInventory]:
    """An inventory whose statements wait at most LOCK_TIMEOUT_MS for a row lock."""
    server = start_inventory(make_settings(database_url, db_lock_timeout_ms=LOCK_TIMEOUT_MS))
    yield server
    server.stop()


def test_every_call_on_a_locked_row_is_aborted_within_lock_timeout_and_its_retry_has_one_effect(
    impatient_inventory: RunningInventory, database_url: str, db: psycopg.Connection
) -> None:
    client, stub = impatient_inventory.client, impatient_inventory.stub
    sku = client.sku(on_hand=10)
    to_release, to_commit, to_extend = (client.hold({sku: 1}).id for _ in range(3))
    calls: list[tuple[Callable[..., Any], Any]] = [
        (stub.CreateHold, hold_request({sku: 1})),
        (
            stub.AdjustStock,
            pb.AdjustStockRequest(
                request_id=new_request_id(), sku=sku, delta=1, reason=pb.ADJUSTMENT_REASON_RECEIVE
            ),
        ),
        (stub.ReleaseHold, pb.ReleaseHoldRequest(request_id=new_request_id(), hold_id=to_release)),
        (stub.CommitHold, pb.CommitHoldRequest(request_id=new_request_id(), hold_id=to_commit)),
        (
            stub.ExtendHold,
            pb.ExtendHoldRequest(request_id=new_request_id(), hold_id=to_extend, ttl={"seconds": 1200}),
        ),
    ]

    with rows_locked(database_url, sku, to_extend):
        for call, request in calls:
            got, took = timed_refusal(call, request)
            name = type(request).__name__
            assert (got.code, got.reason) == (grpc.StatusCode.ABORTED, "LOCK_TIMEOUT"), name
            assert LOCK_TIMEOUT_MS / 1000 <= took < SLACK * LOCK_TIMEOUT_MS / 1000, f"{name}: {took:.2f} s"
        assert service_sessions(database_url, "idle in transaction") == 0

    # Nothing happened; each retry with its request_id happens once, and a second retry replays it.
    responses = [call(request, timeout=CALL_TIMEOUT) for call, request in calls]
    assert [call(request, timeout=CALL_TIMEOUT) for call, request in calls] == responses
    level = client.level(sku)
    # 3 holds, then +1 held, +1 received, -1 released, -1 committed (on_hand and reserved).
    assert (level.on_hand, level.reserved) == (10 + 1 - 1, 3 + 1 - 1 - 1)
    assert holds_made(db, calls[0][1].request_id) == (1, 1, 1)
    assert [ledger_rows(db, request.request_id) for _, request in calls[1:4]] == [1, 1, 1]
    assert responses[4].hold.expire_time.seconds > responses[4].hold.create_time.seconds + 1000


def test_a_deadline_shorter_than_the_work_leaves_nothing_half_made_and_the_retry_converges(
    inventory: RunningInventory, database_url: str, db: psycopg.Connection
) -> None:
    client, stub = inventory.client, inventory.stub
    sku = client.sku(on_hand=10)
    to_commit = client.hold({sku: 2}).id
    create = hold_request({sku: 3})
    commit = pb.CommitHoldRequest(request_id=new_request_id(), hold_id=to_commit)
    adjust = pb.AdjustStockRequest(
        request_id=new_request_id(), sku=sku, delta=-1, reason=pb.ADJUSTMENT_REASON_ADJUST
    )

    with row_locked(database_url, sku):
        # The lock outlasts the client's patience (lock_timeout is 5 s here).
        for call, request in [
            (stub.CreateHold, create),
            (stub.CommitHold, commit),
            (stub.AdjustStock, adjust),
        ]:
            got, _ = timed_refusal(call, request, timeout=0.5)
            assert got.code == grpc.StatusCode.DEADLINE_EXCEEDED, type(request).__name__

        # CommitHold and AdjustStock gave up their statements and transactions (psycopg cancels a
        # query when its task is cancelled); CreateHold's batch runs on in its own task, waiting
        # for the lock, and its hold may still be made.
        def settled() -> bool:
            return (
                lock_waiters(database_url) == 1 and service_sessions(database_url, "idle in transaction") == 0
            )

        wait_until(settled, 10, "the abandoned calls' sessions to let go")

    # The retries converge on one effect each.
    hold = stub.CreateHold(create, timeout=CALL_TIMEOUT).hold
    assert stub.CreateHold(create, timeout=CALL_TIMEOUT).hold == hold
    assert stub.CommitHold(commit, timeout=CALL_TIMEOUT).hold.state == pb.HOLD_STATE_COMMITTED
    assert stub.AdjustStock(adjust, timeout=CALL_TIMEOUT).stock_level.on_hand == 10 - 2 - 1
    assert holds_made(db, create.request_id) == (1, 1, 1)
    assert (ledger_rows(db, commit.request_id), ledger_rows(db, adjust.request_id)) == (1, 1)
    level = client.level(sku)
    assert (level.on_hand, level.reserved) == (7, 3)

    # No session is left in a transaction, and no lock is left held.
    assert service_sessions(database_url, "idle in transaction") == 0
    with psycopg.connect(database_url) as conn:
        conn.execute("SET lock_timeout = '1s'")
        conn.execute("SELECT 1 FROM stock WHERE sku = %s FOR UPDATE NOWAIT", (sku,))
        conn.execute("SELECT 1 FROM holds WHERE id = %s FOR UPDATE NOWAIT", (hold.id,))
    assert not find_breaches(database_url)


@pytest.fixture
def pricing_process(database_url: str, tmp_path: Path) -> Iterator[Callable[[str | None], ServiceProcess]]:
    """Starts `python -m pricing_svc` (on a given host:port, or a free one); kills what is left."""
    started: list[ServiceProcess] = []

    def start(target: str | None = None) -> ServiceProcess:
        log = tmp_path / f"pricing-{len(started)}.log"
        process = ServiceProcess("pricing_svc", log, target, DATABASE_URL=database_url, LOG_LEVEL="WARNING")
        started.append(process)
        return process

    yield start
    for process in started:
        if process.alive:
            os.kill(process.process.pid, signal.SIGCONT)
        process.kill()


def test_unpriced_holds_ride_out_pricing_hung_or_gone_and_priced_ones_come_back(
    database_url: str, db: psycopg.Connection, pricing_process: Callable[[str | None], ServiceProcess]
) -> None:
    pricing = pricing_process(None)
    server = start_inventory(
        make_settings(database_url, pricing_address=pricing.target, pricing_timeout_seconds=PRICING_TIMEOUT)
    )
    client, stub = server.client, server.stub
    try:
        sku = client.sku(on_hand=1000, product_id=client.product(price_cents=1250).id)
        assert stub.CreateHold(hold_request({sku: 1}, tier=""), timeout=CALL_TIMEOUT).hold.total.units == 12

        def unpriced_round_trip() -> float:
            """An unpriced hold made and released, then one made and committed; the slowest call."""
            slowest = 0.0
            for finish in ("release", "commit"):
                started = time.monotonic()
                hold = stub.CreateHold(hold_request({sku: 1}), timeout=CALL_TIMEOUT).hold
                took = time.monotonic() - started
                started = time.monotonic()
                if finish == "release":
                    stub.ReleaseHold(pb.ReleaseHoldRequest(request_id=new_request_id(), hold_id=hold.id))
                else:
                    stub.CommitHold(pb.CommitHoldRequest(request_id=new_request_id(), hold_id=hold.id))
                slowest = max(slowest, took, time.monotonic() - started)
            return slowest

        baseline = statistics.median(unpriced_round_trip() for _ in range(5))

        for fault in ("hung", "gone"):
            if fault == "hung":
                os.kill(pricing.process.pid, signal.SIGSTOP)
            else:
                pricing.kill()
            refused = hold_request({sku: 1}, tier="")
            waiting = stub.CreateHold.future(refused, timeout=CALL_TIMEOUT)
            started = time.monotonic()
            # While a priced call waits on pricing, unpriced calls never do: each is quicker than
            # the pricing deadline, and typical ones stay near the baseline.
            slowest = [unpriced_round_trip() for _ in range(5)]
            assert max(slowest) < PRICING_TIMEOUT, (fault, slowest)
            assert statistics.median(slowest) < SLACK * baseline + 0.05, (fault, baseline, slowest)
            with pytest.raises(grpc.RpcError) as raised:
                waiting.result()
            took = time.monotonic() - started
            got = failure(raised.value)
            assert (got.code, got.reason) == (grpc.StatusCode.UNAVAILABLE, "PRICING_UNAVAILABLE"), fault
            # Hung: it waited for the pricing deadline, and no longer; gone: it failed at once.
            assert took < PRICING_TIMEOUT * 3, (fault, took)
            assert holds_made(db, refused.request_id) == (0, 0, 0)

            if fault == "hung":
                os.kill(pricing.process.pid, signal.SIGCONT)
            else:
                pricing = pricing_process(pricing.target)  # back on the same port
            # The same request_id, retried until pricing answers: one hold in the end.
            retried: list[pb.Hold] = []

            def priced_again(
                request: pb.CreateHoldRequest = refused, retried: list[pb.Hold] = retried
            ) -> bool:
                try:
                    retried.append(stub.CreateHold(request, timeout=CALL_TIMEOUT).hold)
                except grpc.RpcError as error:
                    assert failure(error).reason == "PRICING_UNAVAILABLE"
                    time.sleep(0.2)
                    return False
                return True

            wait_until(priced_again, 15, f"priced holds to work again after pricing was {fault}")
            assert retried[0].total.units == 12
            assert holds_made(db, refused.request_id) == (1, 1, 1)
    finally:
        server.stop()

"""The service as a real process: graceful shutdown on SIGTERM, and the audit command."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import psycopg
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from holdfast.inventory.v1 import inventory_pb2 as pb

from tests.conftest import make_settings, new_database, start_inventory
from tests.support import row_locks
from tests.support.databases import drop_database
from tests.support.grpc_helpers import Inventory, RpcFailure, failure, new_request_id
from tests.support.polling import wait_until
from tests.support.service_process import ServiceProcess, run_audit

GRACE_SECONDS = 10
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVICE = "holdfast.inventory.v1.InventoryService"


@pytest.fixture
def service(database_url: str, tmp_path: Path) -> Iterator[ServiceProcess]:
    """`python -m inventory_svc` on a free port, killed if a test leaves it running."""
    process = ServiceProcess(
        "inventory_svc",
        tmp_path / "inventory.log",
        DATABASE_URL=database_url,
        SHUTDOWN_GRACE_SECONDS=str(GRACE_SECONDS),
        DB_POOL_MIN_SIZE="2",
        DB_POOL_MAX_SIZE="6",
    )
    yield process
    process.kill()


def health_status(health: health_pb2_grpc.HealthStub) -> int | grpc.StatusCode:
    """The health of the service, or the gRPC code the check failed with."""
    try:
        # types-grpcio-health-checking declares HealthStub without its methods.
        request = health_pb2.HealthCheckRequest(service=SERVICE)
        return health.Check(request, timeout=2).status  # type: ignore[attr-defined]
    except grpc.RpcError as error:
        return error.code()


def test_sigterm_drains_in_flight_calls_and_exits_cleanly(service, db, database_url):
    process, target = service.process, service.target
    channel = grpc.insecure_channel(target)
    client = Inventory(target)
    try:
        health = health_pb2_grpc.HealthStub(channel)

        def serving() -> bool:
            assert service.alive, f"the service exited early: {service.log()}"
            return health_status(health) == SERVING

        wait_until(serving, 30, "the service to report SERVING")
        sku = client.sku(on_hand=5)
        other_sku = client.sku(on_hand=5)
        to_commit, to_release = client.hold({sku: 1}).id, client.hold({sku: 1}).id

        # Hold the stock row so calls of every kind that change it wait inside their transactions.
        with row_locks.row_locked(database_url, sku):
            stub = client.stub
            in_flight = [
                stub.CreateHold.future(
                    pb.CreateHoldRequest(
                        request_id=new_request_id(),
                        owner_id="late-shopper",
                        lines=[pb.HoldLine(sku=sku, quantity=2)],
                    ),
                    timeout=30,
                ),
                stub.CommitHold.future(
                    pb.CommitHoldRequest(request_id=new_request_id(), hold_id=to_commit), timeout=30
                ),
                stub.ReleaseHold.future(
                    pb.ReleaseHoldRequest(request_id=new_request_id(), hold_id=to_release), timeout=30
                ),
                stub.AdjustStock.future(
                    pb.AdjustStockRequest(
                        request_id=new_request_id(), sku=sku, delta=4, reason=pb.ADJUSTMENT_REASON_RECEIVE
                    ),
                    timeout=30,
                ),
            ]
            wait_until(
                lambda: row_locks.service_sessions(database_url, wait_event_type="Lock") == len(in_flight),
                10,
                "the calls to wait on the row lock",
            )

            process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()

            # Health turns NOT_SERVING (or the server refuses the check outright)...
            wait_until(
                lambda: health_status(health) in (NOT_SERVING, grpc.StatusCode.UNAVAILABLE),
                5,
                "health to leave SERVING",
            )

            # ...and new calls are refused while the old ones are still running.
            def refused() -> bool:
                try:
                    client.stub.BatchGetStockLevels(
                        pb.BatchGetStockLevelsRequest(skus=[other_sku]), timeout=2
                    )
                except grpc.RpcError as error:
                    assert failure(error).code == grpc.StatusCode.UNAVAILABLE
                    return True
                return False

            wait_until(refused, 5, "new calls to be refused")
            assert not any(call.done() for call in in_flight)
            assert process.poll() is None

        created, committed, released, adjusted = (call.result(timeout=GRACE_SECONDS) for call in in_flight)
        assert created.hold.state == pb.HOLD_STATE_ACTIVE
        assert [(x.sku, x.quantity) for x in created.hold.lines] == [(sku, 2)]
        assert (committed.hold.state, released.hold.state) == (
            pb.HOLD_STATE_COMMITTED,
            pb.HOLD_STATE_RELEASED,
        )
        # Before or after the commit took its unit, whichever got the lock first.
        assert adjusted.stock_level.on_hand in (5 + 4, 5 + 4 - 1)
        # Every transaction ended with its call: no session sits idle in one while the process drains.
        assert row_locks.service_sessions(database_url, "idle in transaction") == 0

        returncode = process.wait(timeout=GRACE_SECONDS)
        took = time.monotonic() - signalled
        output = service.log()
        assert returncode == 0, output
        assert took < GRACE_SECONDS, f"shutdown took {took:.1f}s"
        assert "Traceback" not in output
    finally:
        channel.close()
        client.close()

    # What was done during shutdown is durable, and the pool closed every session.
    (on_hand, reserved) = db.execute("SELECT on_hand, reserved FROM stock WHERE sku = %s", (sku,)).fetchone()
    assert (on_hand, reserved) == (8, 2)
    wait_until(
        lambda: row_locks.service_sessions(database_url) == 0, 5, "the service's database sessions to end"
    )


def refused_future(call: grpc.Future) -> RpcFailure:
    """How a call made with .future() failed."""
    with pytest.raises(grpc.RpcError) as raised:
        call.result(timeout=5)
    return failure(raised.value)


def test_audit_command_reports_a_corrupted_stock_row(pg_server_url, template_database):
    name, url = new_database(pg_server_url, template_database)
    try:
        server = start_inventory(make_settings(url))
        try:
            sku = server.client.sku(on_hand=5)
            clean_sku = server.client.sku(on_hand=5)
            server.client.hold({sku: 2, clean_sku: 1})
        finally:
            server.stop()

        clean = run_audit(url)
        assert clean.returncode == 0, clean.stdout + clean.stderr
        assert "all 18 invariants hold" in clean.stdout
        assert "BREACH" not in clean.stdout

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("UPDATE stock SET reserved = reserved + 1 WHERE sku = %s", (sku,))

        broken = run_audit(url)
        assert broken.returncode != 0
        out = broken.stdout
        assert "BREACH reserved = sum of ACTIVE allocations there: 1" in out, out
        assert f"sku {sku} at default: reserved 3 but ACTIVE holds hold 2 there" in out, out
        assert "BREACH every count = sum of its ledger deltas at every (SKU, location): 1" in out, out
        assert clean_sku not in out
    finally:
        drop_database(pg_server_url, name)


def test_calls_still_stuck_when_the_grace_runs_out_are_refused_and_leave_nothing_half_made(
    db, database_url, tmp_path
):
    grace = 1.0
    service = ServiceProcess(
        "inventory_svc",
        tmp_path / "inventory.log",
        DATABASE_URL=database_url,
        SHUTDOWN_GRACE_SECONDS=str(grace),
    )
    client = Inventory(service.target)
    try:
        sku = client.sku(on_hand=5)
        to_commit = client.hold({sku: 1}).id
        create = pb.CreateHoldRequest(
            request_id=new_request_id(), owner_id="too-late", lines=[pb.HoldLine(sku=sku, quantity=2)]
        )
        commit = pb.CommitHoldRequest(request_id=new_request_id(), hold_id=to_commit)
        # The lock outlasts the grace: the calls are still waiting on it when it runs out.
        with row_locks.row_locked(database_url, sku):
            in_flight = [
                client.stub.CreateHold.future(create, timeout=30),
                client.stub.CommitHold.future(commit, timeout=30),
            ]
            wait_until(
                lambda: row_locks.service_sessions(database_url, wait_event_type="Lock") == 2,
                10,
                "the calls to wait on the row lock",
            )
            signalled = time.monotonic()
            assert service.terminate(timeout=30) == 0, service.log()
            took = time.monotonic() - signalled
            refusals = [refused_future(call) for call in in_flight]
    finally:
        client.close()

    # Cut off at the grace (plus room for a loaded machine), told to retry, and nothing was done.
    assert took < grace + 5, f"shutdown took {took:.1f}s"
    assert "Traceback" not in service.log()
    assert [r.code for r in refusals] == [grpc.StatusCode.UNAVAILABLE] * 2
    assert db.execute("SELECT count(*) FROM holds WHERE owner_id = 'too-late'").fetchone() == (0,)
    assert db.execute("SELECT state FROM holds WHERE id = %s", (to_commit,)).fetchone() == ("ACTIVE",)
    wait_until(
        lambda: row_locks.service_sessions(database_url) == 0, 5, "the service's database sessions to end"
    )

    # Retried with their request_ids on another replica, each has its one effect.
    server = start_inventory(make_settings(database_url))
    try:
        assert server.stub.CreateHold(create).hold.lines[0].quantity == 2
        assert server.stub.CommitHold(commit).hold.state == pb.HOLD_STATE_COMMITTED
        assert (server.client.level(sku).on_hand, server.client.level(sku).reserved) == (4, 2)
    finally:
        server.stop()


def test_sigterm_ends_open_watch_streams_at_once_instead_of_waiting_out_the_grace(database_url, tmp_path):
    service = ServiceProcess(
        "inventory_svc", tmp_path / "inventory.log", DATABASE_URL=database_url, SHUTDOWN_GRACE_SECONDS="30"
    )
    client = Inventory(service.target)
    try:
        sku = client.sku(on_hand=5)
        stream = client.stub.WatchStockLevels(pb.WatchStockLevelsRequest(skus=[sku]), timeout=60)
        assert next(stream).stock_level.on_hand == 5
        signalled = time.monotonic()
        service.process.send_signal(signal.SIGTERM)
        # A watcher is told to go elsewhere (UNAVAILABLE: reconnect to another replica) rather
        # than kept open until the grace runs out and cut off.
        with pytest.raises(grpc.RpcError) as ended:
            next(stream)
        assert failure(ended.value).code == grpc.StatusCode.UNAVAILABLE
        assert service.process.wait(timeout=30) == 0, service.log()
        # Far below the 30 s grace even on a loaded machine; waiting it out would take all 30.
        assert time.monotonic() - signalled < 10, service.log()
    finally:
        client.close()
        service.kill()

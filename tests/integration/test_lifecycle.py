"""The service as a real process: graceful shutdown on SIGTERM, and the audit command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import grpc
import psycopg
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from holdfast.inventory.v1 import inventory_pb2 as pb
from psycopg import sql

from holdfast_common.devinfra import REPO_ROOT
from tests.conftest import make_settings, new_database, start_inventory
from tests.support.grpc_helpers import Inventory, failure, new_request_id
from tests.support.polling import wait_until
from tests.support.ports import free_port

GRACE_SECONDS = 10
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVICE = "holdfast.inventory.v1.InventoryService"


def module_env(**values: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(values)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def service_sessions(db: psycopg.Connection, wait_event_type: str | None = None) -> int:
    (count,) = db.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND application_name = 'inventory_svc' AND (%s::text IS NULL OR wait_event_type = %s::text)",
        (wait_event_type, wait_event_type),
    ).fetchone()  # type: ignore[misc]
    return int(count)


@pytest.fixture
def service_process(database_url: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`python -m inventory_svc` on a free port, killed if a test leaves it running."""
    target = f"127.0.0.1:{free_port()}"
    process = subprocess.Popen(
        [sys.executable, "-m", "inventory_svc"],
        cwd=REPO_ROOT,
        env=module_env(
            DATABASE_URL=database_url,
            INVENTORY_LISTEN=target,
            SHUTDOWN_GRACE_SECONDS=str(GRACE_SECONDS),
            DB_POOL_MIN_SIZE="2",
            DB_POOL_MAX_SIZE="4",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process, target
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def health_status(health: health_pb2_grpc.HealthStub) -> int | grpc.StatusCode:
    """The health of the service, or the gRPC code the check failed with."""
    try:
        # types-grpcio-health-checking declares HealthStub without its methods.
        request = health_pb2.HealthCheckRequest(service=SERVICE)
        return health.Check(request, timeout=2).status  # type: ignore[attr-defined]
    except grpc.RpcError as error:
        return error.code()


def test_sigterm_drains_in_flight_calls_and_exits_cleanly(service_process, db, database_url):
    process, target = service_process
    channel = grpc.insecure_channel(target)
    client = Inventory(target)
    try:
        health = health_pb2_grpc.HealthStub(channel)

        def serving() -> bool:
            assert process.poll() is None, f"the service exited early: {process.communicate()[0]}"
            return health_status(health) == SERVING

        wait_until(serving, 30, "the service to report SERVING")
        sku = client.sku(on_hand=5)
        other_sku = client.sku(on_hand=5)

        # Hold the stock row so the next CreateHold waits inside its transaction.
        with psycopg.connect(database_url, autocommit=False) as locker:
            locker.execute("SELECT on_hand FROM stock WHERE sku = %s FOR UPDATE", (sku,))
            request = pb.CreateHoldRequest(
                request_id=new_request_id(), owner_id="late-shopper", lines=[pb.HoldLine(sku=sku, quantity=2)]
            )
            in_flight = client.stub.CreateHold.future(request, timeout=30)
            wait_until(lambda: service_sessions(db, "Lock") == 1, 10, "the call to wait on the row lock")

            process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()

            # Health turns NOT_SERVING (or the server refuses the check outright)...
            wait_until(
                lambda: health_status(health) in (NOT_SERVING, grpc.StatusCode.UNAVAILABLE),
                5,
                "health to leave SERVING",
            )

            # ...and new calls are refused while the old one is still running.
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
            assert not in_flight.done()
            assert process.poll() is None
            locker.rollback()

        response = in_flight.result(timeout=GRACE_SECONDS)
        assert response.hold.state == pb.HOLD_STATE_ACTIVE
        assert [(x.sku, x.quantity) for x in response.hold.lines] == [(sku, 2)]

        output, _ = process.communicate(timeout=GRACE_SECONDS)
        took = time.monotonic() - signalled
        assert process.returncode == 0, output
        assert took < GRACE_SECONDS, f"shutdown took {took:.1f}s"
        assert "Traceback" not in output
    finally:
        channel.close()
        client.close()

    # The reservation made during shutdown is durable, and the pool closed every session.
    (reserved,) = db.execute("SELECT reserved FROM stock WHERE sku = %s", (sku,)).fetchone()
    assert reserved == 2
    wait_until(lambda: service_sessions(db) == 0, 5, "the service's database sessions to end")


def run_audit(database_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inventory_svc", "audit"],
        cwd=REPO_ROOT,
        env=module_env(DATABASE_URL=database_url),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


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
        assert "all 7 invariants hold" in clean.stdout
        assert "BREACH" not in clean.stdout

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("UPDATE stock SET reserved = reserved + 1 WHERE sku = %s", (sku,))

        broken = run_audit(url)
        assert broken.returncode != 0
        out = broken.stdout
        assert "BREACH reserved = sum of ACTIVE hold lines: 1" in out, out
        assert f"sku {sku}: reserved 3 but ACTIVE holds hold 2" in out, out
        assert "BREACH on_hand and reserved = sums of ledger deltas: 1" in out, out
        assert clean_sku not in out
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

"""Prometheus metrics: each process serves /metrics on its own port when one is set."""

from __future__ import annotations

import time
import urllib.error
import uuid

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from holdfast.inventory.v1 import inventory_pb2 as pb

from tests.conftest import make_settings, start_inventory
from tests.support.builders import hold_request
from tests.support.grpc_helpers import failure
from tests.support.metrics import scrape
from tests.support.polling import wait_until
from tests.support.ports import free_port

SERVICE = "holdfast.inventory.v1.InventoryService"
HANDLED = "grpc_server_handled_total"


@pytest.fixture(scope="module")
def observed(database_url):
    """An inventory service with its metrics on a port of its own."""
    port = free_port()
    server = start_inventory(make_settings(database_url, inventory_metrics_port=port))
    yield server, port
    server.stop()


def _hold(inventory, sku: str, quantity: int, ttl_seconds: int = 600) -> pb.CreateHoldRequest:
    return hold_request({sku: quantity}, owner_id=f"cart-{uuid.uuid4().hex[:8]}", ttl_seconds=ttl_seconds)


def test_calls_are_counted_by_method_and_code_timed_and_refusals_counted_by_reason(observed):
    inventory, port = observed
    sku = inventory.client.sku(on_hand=5)
    before = scrape(port)

    inventory.stub.CreateHold(_hold(inventory, sku, 3))
    with pytest.raises(grpc.RpcError) as refused:
        inventory.stub.CreateHold(_hold(inventory, sku, 3))
    assert failure(refused.value).reason == "INSUFFICIENT_STOCK"

    labels = {"grpc_service": SERVICE, "grpc_method": "CreateHold"}
    refusals = {**labels, "grpc_code": "FAILED_PRECONDITION"}
    # grpc.aio sends an abort's status before the handler's stack unwinds to the interceptor.
    wait_until(
        lambda: scrape(port).value(HANDLED, **refusals) > before.value(HANDLED, **refusals),
        5,
        "the refusal to be counted",
    )
    after = scrape(port)

    def delta(name: str, **more: str) -> float:
        return after.value(name, **labels, **more) - before.value(name, **labels, **more)

    assert delta(HANDLED, grpc_code="OK") == 1
    assert delta(HANDLED, grpc_code="FAILED_PRECONDITION") == 1
    assert delta("grpc_server_handling_seconds_count") == 2
    assert delta("grpc_server_handling_seconds_sum") > 0
    # Every call fits in the largest finite bucket: the histogram is in seconds, not ms.
    assert delta("grpc_server_handling_seconds_bucket", le="10.0") == 2
    assert delta("holdfast_refusals_total", reason="INSUFFICIENT_STOCK") == 1


def test_a_stream_is_counted_with_the_code_it_ends_with(observed):
    inventory, port = observed
    labels = {"grpc_service": "grpc.health.v1.Health", "grpc_method": "Watch", "grpc_code": "CANCELLED"}
    before = scrape(port).value(HANDLED, **labels)

    stub = health_pb2_grpc.HealthStub(inventory.client.channel)
    watch = stub.Watch(health_pb2.HealthCheckRequest(service=SERVICE))  # type: ignore[attr-defined]
    assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
    watch.cancel()

    wait_until(lambda: scrape(port).value(HANDLED, **labels) == before + 1, 5, "the stream to be counted")


def test_pool_usage_is_reported_for_the_services_pool(observed):
    inventory, port = observed
    before = scrape(port)
    inventory.client.sku()
    after = scrape(port)

    pool = {"pool": "inventory_svc"}
    assert after.value("holdfast_db_pool_max_size", **pool) == inventory.settings.database.db_pool_max_size
    assert after.value("holdfast_db_pool_min_size", **pool) == inventory.settings.database.db_pool_min_size
    assert after.value("holdfast_db_pool_connections", **pool) >= inventory.settings.database.db_pool_min_size
    assert (
        0
        <= after.value("holdfast_db_pool_idle_connections", **pool)
        <= after.value("holdfast_db_pool_connections", **pool)
    )
    assert after.value("holdfast_db_pool_requests_total", **pool) > before.value(
        "holdfast_db_pool_requests_total", **pool
    )


def test_active_and_overdue_holds_match_the_database(observed, db):
    inventory, port = observed
    sku = inventory.client.sku(on_hand=10)
    # No sweeper runs here: a 1 s hold stays ACTIVE past its expire_time.
    inventory.stub.CreateHold(_hold(inventory, sku, 1, ttl_seconds=1))
    inventory.stub.CreateHold(_hold(inventory, sku, 1))
    time.sleep(1.2)

    metrics = scrape(port)
    active, overdue = db.execute(
        "SELECT count(*), count(*) FILTER (WHERE expire_time <= now()) FROM holds WHERE state = 'ACTIVE'"
    ).fetchone()
    assert overdue >= 1 and active >= 2
    assert metrics.value("holdfast_holds_active") == active
    assert metrics.value("holdfast_holds_overdue") == overdue


def test_stopping_the_service_frees_its_metrics_port(database_url):
    port = free_port()
    server = start_inventory(make_settings(database_url, inventory_metrics_port=port))
    assert scrape(port).has("holdfast_db_pool_connections")
    server.stop()

    with pytest.raises(urllib.error.URLError):
        scrape(port)
    # The port is free again: a restarted service can take it.
    again = start_inventory(make_settings(database_url, inventory_metrics_port=port))
    try:
        assert scrape(port).has("holdfast_db_pool_connections")
    finally:
        again.stop()

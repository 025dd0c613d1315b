"""The container healthchecks as the orchestrator runs them: a process whose exit code
says whether the service in the same container is up."""

from __future__ import annotations

import subprocess

import pytest
from grpc_health.v1 import health_pb2

from holdfast_common.rpc.healthcheck import local_address
from tests.conftest import make_settings, start_inventory
from tests.support.ports import free_port
from tests.support.processes import run_module


def healthcheck(*module: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m <module>` with `env` over this process's environment."""
    return run_module(*module, env=env, timeout=30)


@pytest.mark.parametrize(
    ("listen", "address"),
    [
        ("0.0.0.0:50051", "127.0.0.1:50051"),
        ("[::]:50052", "[::1]:50052"),
        (":50051", "127.0.0.1:50051"),
        ("10.1.2.3:50051", "10.1.2.3:50051"),
    ],
)
def test_a_wildcard_listen_address_is_dialled_on_loopback(listen, address):
    assert local_address(listen) == address


@pytest.mark.parametrize("listen", ["127.0.0.1:0", "127.0.0.1", "127.0.0.1:http"])
def test_a_listen_address_without_a_fixed_port_cannot_be_checked(listen):
    with pytest.raises(ValueError):
        local_address(listen)


def test_inventory_healthcheck_passes_on_a_serving_service_and_fails_on_a_closed_port(inventory):
    # The compose file's listen address: every interface, dialled on loopback.
    serving = healthcheck("inventory_svc.healthcheck", INVENTORY_LISTEN=f"0.0.0.0:{inventory.port}")
    assert serving.returncode == 0, serving.stderr
    assert "SERVING" in serving.stdout
    closed = healthcheck("inventory_svc.healthcheck", INVENTORY_LISTEN=f"0.0.0.0:{free_port()}")
    assert closed.returncode == 1, closed.stdout
    assert "UNAVAILABLE" in closed.stderr


def test_pricing_healthcheck_passes_on_a_serving_service_and_fails_on_a_closed_port(pricing):
    serving = healthcheck("pricing_svc.healthcheck", PRICING_LISTEN=f"0.0.0.0:{pricing.port}")
    assert serving.returncode == 0, serving.stderr
    closed = healthcheck("pricing_svc.healthcheck", PRICING_LISTEN=f"127.0.0.1:{free_port()}")
    assert closed.returncode == 1, closed.stdout


def test_healthcheck_fails_while_the_service_is_not_serving(database_url):
    # A draining service (SIGTERM) reports NOT_SERVING but still answers.
    service = start_inventory(make_settings(database_url))
    try:
        running = service.thread.running
        assert running is not None
        service.thread.call(running.health.set("", health_pb2.HealthCheckResponse.NOT_SERVING))
        result = healthcheck("inventory_svc.healthcheck", INVENTORY_LISTEN=f"127.0.0.1:{service.port}")
        assert result.returncode == 1, result.stderr
        assert "NOT_SERVING" in result.stdout
    finally:
        service.stop()


def test_sweeper_healthcheck_passes_when_redis_answers_and_fails_when_it_does_not(redis_url):
    reachable = healthcheck("sweeper", "healthcheck", REDIS_URL=redis_url)
    assert reachable.returncode == 0, reachable.stderr
    unreachable = healthcheck("sweeper", "healthcheck", REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    assert unreachable.returncode == 1, unreachable.stdout
    assert "unreachable" in unreachable.stderr

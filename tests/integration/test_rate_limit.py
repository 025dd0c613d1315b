"""The per-caller rate limit on a real server: a burst past the bucket is refused with a
RetryInfo, other callers carry on, health is exempt, and the caller recovers after the refill."""

from __future__ import annotations

import time
from collections.abc import Iterator

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from holdfast.inventory.v1 import inventory_pb2 as ipb

from holdfast_common.security.auth import SECURITY_DOMAIN
from holdfast_common.security.scopes import INVENTORY_READ, INVENTORY_WRITE
from tests.conftest import RunningService, make_settings, start_inventory
from tests.support.grpc_helpers import failure
from tests.support.security import Token, auth_tokens

# One token every 2 s after a burst of 3: the burst's calls and the one after it take far
# less than 2 s even on a loaded machine, and a refill is quick to wait for.
RATE = 0.5
BURST = 3
FIRST = Token("first", (INVENTORY_READ, INVENTORY_WRITE))
SECOND = Token("second", (INVENTORY_READ,))


@pytest.fixture(scope="module")
def limited(database_url) -> Iterator[RunningService]:
    settings = make_settings(
        database_url,
        auth_tokens=auth_tokens(FIRST, SECOND),
        rate_limit_per_second=RATE,
        rate_limit_burst=BURST,
    )
    server = start_inventory(settings)
    yield server
    server.stop()


def _list(server: RunningService, token: Token) -> None:
    server.stub.ListCategories(ipb.ListCategoriesRequest(), metadata=token.metadata)


def _retry_delay(error: grpc.RpcError) -> float:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    retry = error_details_pb2.RetryInfo()
    [packed] = [d for d in status.details if d.Is(retry.DESCRIPTOR)]
    packed.Unpack(retry)
    return retry.retry_delay.ToNanoseconds() / 1e9


def test_a_burst_past_the_bucket_is_refused_with_retry_info_and_recovers(limited):
    for _ in range(BURST):
        _list(limited, FIRST)
    with pytest.raises(grpc.RpcError) as raised:
        limited.stub.CreateCategory(ipb.CreateCategoryRequest(name="over-the-limit"), metadata=FIRST.metadata)
    refused = failure(raised.value)
    assert (refused.code, refused.reason, refused.domain) == (
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "RATE_LIMITED",
        SECURITY_DOMAIN,
    )
    delay = _retry_delay(raised.value)
    assert 0 < delay <= 1 / RATE
    # Another caller has a bucket of its own; health checks are never limited.
    _list(limited, SECOND)
    health = health_pb2_grpc.HealthStub(limited.client.channel)
    for _ in range(BURST + 2):
        health.Check(health_pb2.HealthCheckRequest())  # type: ignore[attr-defined]
    # The refused call wrote nothing.
    names = {
        c.name
        for c in limited.stub.ListCategories(ipb.ListCategoriesRequest(), metadata=SECOND.metadata).categories
    }
    assert "over-the-limit" not in names
    time.sleep(delay + 0.05)
    _list(limited, FIRST)


def test_without_auth_the_peer_address_is_the_caller(database_url):
    server = start_inventory(make_settings(database_url, rate_limit_per_second=RATE, rate_limit_burst=BURST))
    try:
        for _ in range(BURST):
            server.stub.ListCategories(ipb.ListCategoriesRequest())
        with pytest.raises(grpc.RpcError) as raised:
            server.stub.ListCategories(ipb.ListCategoriesRequest())
        assert failure(raised.value).reason == "RATE_LIMITED"
    finally:
        server.stop()

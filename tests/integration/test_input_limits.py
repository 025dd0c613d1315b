"""Input limits: the largest message a service takes, and page sizes capped (AIP-158)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2
from holdfast.inventory.v1 import inventory_pb2 as pb
from holdfast.pricing.v1 import pricing_pb2 as ppb

from holdfast_common.rpc.healthcheck import check as health_check
from holdfast_common.settings import SecuritySettings
from tests.conftest import AnyProcessSettings, RunningService, make_settings, start_inventory, start_pricing
from tests.support.grpc_helpers import new_request_id, refusal, unique_sku

SMALL_MESSAGE = 64 * 1024
MAX_PAGE = 3


def _small(
    database_url: str, start: Callable[[AnyProcessSettings], RunningService[Any]]
) -> RunningService[Any]:
    """A service with a small page cap and message limit, so both are cheap to reach."""
    return start(
        make_settings(
            database_url, max_page_size=MAX_PAGE, default_page_size=2, grpc_max_message_bytes=SMALL_MESSAGE
        )
    )


@pytest.fixture(scope="module")
def small_inventory(database_url: str) -> Iterator[RunningService[Any]]:
    server = _small(database_url, start_inventory)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def small_pricing(database_url: str) -> Iterator[RunningService[Any]]:
    server = _small(database_url, start_pricing)
    yield server
    server.stop()


def _sized(build: Callable[[str], Message], size: int) -> Message:
    """The message `build(text)` whose serialized size is exactly `size` bytes."""
    overhead = build("").ByteSize()
    text_len = size - overhead
    while build("x" * text_len).ByteSize() > size:  # the length prefix grows with the text
        text_len -= 1
    message = build("x" * text_len)
    assert message.ByteSize() == size
    return message


def _serving(port: int) -> bool:
    return health_check(f"127.0.0.1:{port}", SecuritySettings()) == health_pb2.HealthCheckResponse.SERVING


# ---------------------------------------------------------------- message size


def test_a_request_over_the_default_4_mib_is_refused_by_grpc(inventory, fingerprints):
    limit = inventory.settings.server.grpc_max_message_bytes
    assert limit == 4 * 1024 * 1024
    before = fingerprints.take()

    def category(name: str) -> pb.CreateCategoryRequest:
        return pb.CreateCategoryRequest(name=name)

    # grpc's own refusal, before our code: RESOURCE_EXHAUSTED and no google.rpc.Status.
    with pytest.raises(grpc.RpcError) as over:
        inventory.stub.CreateCategory(_sized(category, limit + 1), timeout=30)
    assert over.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    # At the limit the request reaches the service, which refuses the name as too long.
    at_limit = refusal(inventory.stub.CreateCategory, _sized(category, limit))
    assert (at_limit.code, at_limit.field_violations[0][0]) == (grpc.StatusCode.INVALID_ARGUMENT, "name")
    assert fingerprints.take() == before
    assert _serving(inventory.port)
    assert inventory.stub.CreateCategory(pb.CreateCategoryRequest(name=unique_sku("after"))).category.id


@pytest.mark.parametrize("service", ["inventory", "pricing"])
def test_the_configured_message_limit_holds_for_both_services(
    service, small_inventory, small_pricing, fingerprints
):
    running = small_inventory if service == "inventory" else small_pricing
    if service == "inventory":
        call = running.stub.CreateProduct

        def build(text: str) -> Message:
            return pb.CreateProductRequest(title="t", description=text)
    else:
        call = running.stub.CreatePriceRule

        def build(text: str) -> Message:
            return ppb.CreatePriceRuleRequest(request_id=new_request_id(), rule=ppb.PriceRule(name=text))

    before = fingerprints.take()
    with pytest.raises(grpc.RpcError) as over:
        call(_sized(build, SMALL_MESSAGE + 1), timeout=30)
    assert over.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert refusal(call, _sized(build, SMALL_MESSAGE)).code == grpc.StatusCode.INVALID_ARGUMENT
    assert fingerprints.take() == before
    assert _serving(running.port)


# ---------------------------------------------------------------- page sizes (AIP-158)
# ListProducts has its own in test_catalog.py.


@pytest.fixture(scope="module")
def more_than_a_page(small_inventory, small_pricing) -> dict[str, Any]:
    """Over MAX_PAGE of each listed resource."""
    client = small_inventory.client
    product = client.product("listed")
    for _ in range(MAX_PAGE + 1):
        small_inventory.stub.CreateCategory(pb.CreateCategoryRequest(name=unique_sku("cat")))
        client.sku(on_hand=5, product_id=product.id)
        small_pricing.client.rule(stage=ppb.PRICE_STAGE_BULK, percent_off_bps=100, min_quantity=5)
    owner = unique_sku("owner")
    for sku in [
        v.sku
        for v in small_inventory.stub.ListVariants(
            pb.ListVariantsRequest(product_id=product.id, page_size=MAX_PAGE)
        ).variants
    ] * 2:
        client.hold({sku: 1}, owner_id=owner)
    return {"product_id": product.id, "owner": owner}


def _lists(world: dict[str, Any]) -> dict[str, tuple[str, Callable[[int], Message], str]]:
    return {
        "ListCategories": ("inventory", lambda n: pb.ListCategoriesRequest(page_size=n), "categories"),
        "ListVariants": (
            "inventory",
            lambda n: pb.ListVariantsRequest(product_id=world["product_id"], page_size=n),
            "variants",
        ),
        "ListHolds": (
            "inventory",
            lambda n: pb.ListHoldsRequest(owner_id=world["owner"], page_size=n),
            "holds",
        ),
        "ListPriceRules": ("pricing", lambda n: ppb.ListPriceRulesRequest(page_size=n), "rules"),
    }


@pytest.mark.parametrize("method", ["ListCategories", "ListVariants", "ListHolds", "ListPriceRules"])
@pytest.mark.parametrize("page_size", [MAX_PAGE + 1, 1000, 2**31 - 1])
def test_a_page_size_over_the_maximum_is_capped(
    method, page_size, small_inventory, small_pricing, more_than_a_page
):
    service, request, items = _lists(more_than_a_page)[method]
    stub = (small_inventory if service == "inventory" else small_pricing).stub
    page = getattr(stub, method)(request(page_size))
    assert len(getattr(page, items)) == MAX_PAGE
    assert page.next_page_token
    # 0 is the default size.
    assert len(getattr(getattr(stub, method)(request(0)), items)) == 2

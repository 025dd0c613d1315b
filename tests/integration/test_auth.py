"""Bearer tokens and scopes on real servers: who is refused, how, and what the logs keep."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from holdfast.inventory.v1 import inventory_pb2 as ipb
from holdfast.pricing.v1 import pricing_pb2 as ppb

from holdfast_common.security.auth import SECURITY_DOMAIN
from holdfast_common.security.scopes import (
    INVENTORY_READ,
    INVENTORY_WRITE,
    METHOD_SCOPES,
    PRICING_READ,
    SCOPES,
)
from tests.conftest import RunningService, make_settings, start_inventory, start_pricing
from tests.support.grpc_helpers import Pricing, failure, unique_sku, usd_cents
from tests.support.polling import wait_until
from tests.support.security import Token, auth_tokens

READER = Token("reader", (INVENTORY_READ,))
WRITER = Token("writer", (INVENTORY_READ, INVENTORY_WRITE))
QUOTER = Token("quoter", (PRICING_READ,))
EVERYTHING = Token("root", tuple(sorted(SCOPES)))
TOKENS = auth_tokens(READER, WRITER, QUOTER, EVERYTHING)


@pytest.fixture(scope="module")
def inventory_with_auth(database_url) -> Iterator[RunningService]:
    """Tokens configured, so auth is on; health open and reflection protected (the defaults)."""
    server = start_inventory(make_settings(database_url, auth_tokens=TOKENS))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pricing_with_auth(database_url) -> Iterator[RunningService[Pricing]]:
    """The other way round: health protected, reflection open."""
    settings = make_settings(
        database_url, auth_tokens=TOKENS, auth_open_health=False, auth_open_reflection=True
    )
    server = start_pricing(settings)
    yield server
    server.stop()


def _create_category(server: RunningService, name: str, token: Token | None) -> ipb.CreateCategoryResponse:
    metadata = token.metadata if token else ()
    return server.stub.CreateCategory(ipb.CreateCategoryRequest(name=name), metadata=metadata)


def _category_names(server: RunningService) -> set[str]:
    response = server.stub.ListCategories(ipb.ListCategoriesRequest(page_size=500), metadata=READER.metadata)
    return {category.name for category in response.categories}


def test_every_method_of_both_services_is_mapped_to_one_known_scope():
    methods = {
        f"/{service.full_name}/{method.name}"
        for module in (ipb, ppb)
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    }
    assert set(METHOD_SCOPES) == methods
    assert set(METHOD_SCOPES.values()) <= SCOPES


@pytest.mark.parametrize(
    ("token", "reason"),
    [(None, "TOKEN_MISSING"), (Token("stranger", (INVENTORY_WRITE,)), "TOKEN_INVALID")],
)
def test_a_call_without_a_valid_token_is_unauthenticated_and_writes_nothing(
    inventory_with_auth, token, reason
):
    name = f"refused-{reason}"
    with pytest.raises(grpc.RpcError) as raised:
        _create_category(inventory_with_auth, name, token)
    refused = failure(raised.value)
    assert (refused.code, refused.reason, refused.domain) == (
        grpc.StatusCode.UNAUTHENTICATED,
        reason,
        SECURITY_DOMAIN,
    )
    assert name not in _category_names(inventory_with_auth)


def test_a_malformed_authorization_header_is_unauthenticated(inventory_with_auth):
    with pytest.raises(grpc.RpcError) as raised:
        inventory_with_auth.stub.ListCategories(
            ipb.ListCategoriesRequest(), metadata=(("authorization", f"Basic {READER.secret}"),)
        )
    assert failure(raised.value).reason == "TOKEN_INVALID"


def test_a_token_without_the_methods_scope_is_permission_denied(inventory_with_auth):
    with pytest.raises(grpc.RpcError) as raised:
        _create_category(inventory_with_auth, "reader-cannot-write", READER)
    refused = failure(raised.value)
    assert (refused.code, refused.reason) == (grpc.StatusCode.PERMISSION_DENIED, "SCOPE_MISSING")
    assert refused.metadata == {
        "scope": INVENTORY_WRITE,
        "method": "/holdfast.inventory.v1.InventoryService/CreateCategory",
    }
    assert "reader-cannot-write" not in _category_names(inventory_with_auth)
    # A pricing token opens nothing on inventory.
    with pytest.raises(grpc.RpcError) as raised:
        inventory_with_auth.stub.ListCategories(ipb.ListCategoriesRequest(), metadata=QUOTER.metadata)
    assert failure(raised.value).code == grpc.StatusCode.PERMISSION_DENIED


def test_a_stream_is_refused_the_same_way_and_opened_with_the_scope(inventory_with_auth):
    sku = _create_sku(inventory_with_auth)
    request = ipb.WatchStockLevelsRequest(skus=[sku])
    with pytest.raises(grpc.RpcError) as raised:
        next(iter(inventory_with_auth.stub.WatchStockLevels(request, timeout=10)))
    assert failure(raised.value).reason == "TOKEN_MISSING"
    stream = inventory_with_auth.stub.WatchStockLevels(request, metadata=READER.metadata, timeout=10)
    try:
        assert next(iter(stream)).stock_level.sku == sku
    finally:
        stream.cancel()


def _create_sku(server: RunningService) -> str:
    product = server.stub.CreateProduct(
        ipb.CreateProductRequest(title="Watched", base_price=usd_cents(100)), metadata=WRITER.metadata
    ).product
    sku = unique_sku("AUTH")
    request = ipb.CreateVariantRequest(product_id=product.id, sku=sku, initial_on_hand=1)
    server.stub.CreateVariant(request, metadata=WRITER.metadata)
    return sku


def test_a_token_with_the_scope_is_let_through(inventory_with_auth):
    created = _create_category(inventory_with_auth, "writer-may-write", WRITER).category
    assert created.name in _category_names(inventory_with_auth)


def test_pricing_quotes_need_pricing_read_and_rule_changes_pricing_admin(pricing_with_auth):
    stub = pricing_with_auth.stub
    # Past auth, an unknown SKU is the servicer's own NOT_FOUND.
    with pytest.raises(grpc.RpcError) as raised:
        stub.QuotePrice(ppb.QuotePriceRequest(sku="NO-SUCH", quantity=1), metadata=QUOTER.metadata)
    assert failure(raised.value).code == grpc.StatusCode.NOT_FOUND
    request = ppb.DeletePriceRuleRequest(id="00000000-0000-0000-0000-000000000000")
    with pytest.raises(grpc.RpcError) as raised:
        stub.DeletePriceRule(request, metadata=QUOTER.metadata)
    assert failure(raised.value).metadata["scope"] == "pricing:admin"


def test_a_method_missing_from_the_scope_map_is_refused_even_to_a_token_with_every_scope(
    inventory_with_auth, monkeypatch
):
    method = "/holdfast.inventory.v1.InventoryService/ListCategories"
    inventory_with_auth.stub.ListCategories(ipb.ListCategoriesRequest(), metadata=EVERYTHING.metadata)
    monkeypatch.delitem(METHOD_SCOPES, method)
    with pytest.raises(grpc.RpcError) as raised:
        inventory_with_auth.stub.ListCategories(ipb.ListCategoriesRequest(), metadata=EVERYTHING.metadata)
    refused = failure(raised.value)
    assert (refused.code, refused.reason) == (grpc.StatusCode.PERMISSION_DENIED, "METHOD_NOT_MAPPED")


def _health(channel: grpc.Channel, token: Token | None) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    metadata = token.metadata if token else ()
    response = stub.Check(health_pb2.HealthCheckRequest(), metadata=metadata, timeout=10)  # type: ignore[attr-defined]
    return int(response.status)


def _reflected_services(channel: grpc.Channel, token: Token | None) -> set[str]:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    metadata = token.metadata if token else ()
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    # types-grpcio-reflection leaves the stub's methods untyped.
    responses = stub.ServerReflectionInfo(iter([request]), metadata=metadata, timeout=10)  # type: ignore[operator]
    [response] = list(responses)
    return {service.name for service in response.list_services_response.service}


def test_by_default_health_is_open_and_reflection_needs_a_token(inventory_with_auth):
    channel = inventory_with_auth.client.channel
    assert _health(channel, None) == health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(grpc.RpcError) as raised:
        _reflected_services(channel, None)
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    # Any valid token will do: reflection describes the contract, not data.
    assert "holdfast.inventory.v1.InventoryService" in _reflected_services(channel, QUOTER)


def test_health_and_reflection_follow_their_settings(pricing_with_auth):
    channel = pricing_with_auth.client.channel
    with pytest.raises(grpc.RpcError) as raised:
        _health(channel, None)
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert _health(channel, READER) == health_pb2.HealthCheckResponse.SERVING
    assert "holdfast.pricing.v1.PricingService" in _reflected_services(channel, None)


def test_the_call_log_names_the_caller_and_refusals_but_never_a_token(inventory_with_auth):
    stranger = Token("stranger", (INVENTORY_READ,))
    stub = inventory_with_auth.stub
    with structlog.testing.capture_logs() as logs:
        stub.ListCategories(ipb.ListCategoriesRequest(), metadata=READER.metadata)
        for metadata in (stranger.metadata, READER.metadata):
            with pytest.raises(grpc.RpcError):
                stub.CreateCategory(ipb.CreateCategoryRequest(name="logged"), metadata=metadata)
        wait_until(lambda: len([x for x in logs if x.get("event") == "call"]) >= 3, 5, "three call lines")

    calls = [(line["caller"], line["code"], line["reason"]) for line in logs if line.get("event") == "call"]
    assert calls == [
        ("reader", "OK", None),
        (None, "UNAUTHENTICATED", "TOKEN_INVALID"),
        ("reader", "PERMISSION_DENIED", "SCOPE_MISSING"),
    ]
    captured = repr(logs)
    assert READER.secret not in captured and stranger.secret not in captured


def test_a_callers_name_does_not_leak_into_the_next_calls_log_line(inventory_with_auth):
    # Health is open: its calls carry no caller even right after an authenticated call.
    with structlog.testing.capture_logs() as logs:
        inventory_with_auth.stub.ListCategories(ipb.ListCategoriesRequest(), metadata=WRITER.metadata)
        _health(inventory_with_auth.client.channel, None)
        wait_until(lambda: len([x for x in logs if x.get("event") == "call"]) >= 2, 5, "two call lines")
    assert [line["caller"] for line in logs if line.get("event") == "call"] == ["writer", None]

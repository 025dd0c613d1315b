"""Priced holds: CreateHold locks the cart's quoted prices, and keeps them through checkout."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import grpc
import pytest
from holdfast.inventory.v1 import inventory_pb2 as ipb
from holdfast.pricing.v1 import pricing_pb2 as pb

from tests.conftest import RunningInventory, make_settings, start_inventory
from tests.support.builders import hold_request
from tests.support.grpc_helpers import cents, new_request_id, refusal, unique_sku, usd_cents

TIER = pb.PRICE_STAGE_TIER


def test_a_priced_hold_shows_each_unit_price_and_the_total(priced_inventory, pricing) -> None:
    client = priced_inventory.client
    coat = client.sku(product_id=client.product(price_cents=12_000).id, adjustment_cents=-1)  # 119.99
    hat = client.sku(product_id=client.product(price_cents=2500).id)
    pricing.client.rule(stage=TIER, percent_off_bps=1000, customer_tier="gold", sku=coat)

    hold = priced_inventory.stub.CreateHold(hold_request({hat: 3, coat: 2}, tier="gold")).hold

    prices = {line.sku: cents(line.unit_price) for line in hold.lines}
    assert prices == {coat: 10_799, hat: 2500}  # 11999 x 0.9 = 10799.1 -> 10799
    assert cents(hold.total) == 2 * 10_799 + 3 * 2500
    assert hold.pricing.customer_tier == "gold"
    assert priced_inventory.stub.GetHold(ipb.GetHoldRequest(id=hold.id)).hold == hold


def test_the_locked_total_survives_a_rule_change_through_checkout(priced_inventory, pricing) -> None:
    client = priced_inventory.client
    sku = client.sku(product_id=client.product(price_cents=5000).id)
    rule = pricing.client.rule(stage=TIER, percent_off_bps=2000, customer_tier="gold", sku=sku)
    hold = priced_inventory.stub.CreateHold(hold_request({sku: 2}, tier="gold")).hold
    assert cents(hold.total) == 8000

    pricing.stub.UpdatePriceRule(
        pb.UpdatePriceRuleRequest(
            request_id=new_request_id(),
            rule=pb.PriceRule(id=rule.id, percent_off_bps=500),
            update_mask={"paths": ["percent_off_bps"]},
        )
    )
    # The best TIER rule now gives $15.00 off: 3500 a unit, 7000 for two.
    pricing.client.rule(stage=TIER, amount_off=usd_cents(1500), customer_tier="gold", sku=sku)
    assert cents(pricing.client.quote(sku, 2, "gold").line_total) == 7000

    committed = priced_inventory.stub.CommitHold(
        ipb.CommitHoldRequest(request_id=new_request_id(), hold_id=hold.id)
    ).hold
    assert committed.state == ipb.HOLD_STATE_COMMITTED
    assert cents(committed.total) == 8000
    assert [cents(line.unit_price) for line in committed.lines] == [4000]


def test_an_unpriced_hold_has_no_prices(priced_inventory) -> None:
    hold = priced_inventory.client.hold({priced_inventory.client.sku(): 1})
    assert not hold.HasField("pricing") and not hold.HasField("total")
    assert not hold.lines[0].HasField("unit_price")


def test_a_priced_hold_of_an_unknown_sku_is_not_found(priced_inventory) -> None:
    failure = refusal(priced_inventory.stub.CreateHold, hold_request({"NO-SUCH-SKU": 1}, tier="gold"))
    assert (failure.code, failure.reason) == (grpc.StatusCode.NOT_FOUND, "SKU_NOT_FOUND")


def test_a_bad_customer_tier_is_refused_before_pricing_is_asked(priced_inventory) -> None:
    request = hold_request({priced_inventory.client.sku(): 1}, tier="no spaces allowed")
    failure = refusal(priced_inventory.stub.CreateHold, request)
    assert failure.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in failure.field_violations] == ["pricing.customer_tier"]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers: a hung pricing service."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(params=["refused", "hung"])
def pricing_down(request, database_url: str, silent_port: int) -> Iterator[RunningInventory]:
    """An inventory service whose pricing service refuses connections, or never answers."""
    port = closed_port() if request.param == "refused" else silent_port
    settings = make_settings(database_url, pricing_address=f"127.0.0.1:{port}", pricing_timeout_seconds=1.0)
    server = start_inventory(settings)
    yield server
    server.stop()


def test_pricing_down_makes_create_hold_unavailable_and_holds_nothing(pricing_down, inventory) -> None:
    owner = unique_sku("owner")
    sku = inventory.client.sku(on_hand=5)
    failure = refusal(pricing_down.stub.CreateHold, hold_request({sku: 2}, owner_id=owner, tier="gold"))
    assert (failure.code, failure.reason) == (grpc.StatusCode.UNAVAILABLE, "PRICING_UNAVAILABLE")
    level = inventory.client.level(sku)
    assert (level.on_hand, level.reserved) == (5, 0)
    assert not inventory.stub.ListHolds(ipb.ListHoldsRequest(owner_id=owner)).holds
    # Unpriced holds do not need pricing at all.
    assert pricing_down.client.hold({sku: 2}).state == ipb.HOLD_STATE_ACTIVE


def test_no_stock_lock_is_held_while_pricing_is_awaited(
    database_url: str, silent_port: int, inventory
) -> None:
    settings = make_settings(
        database_url, pricing_address=f"127.0.0.1:{silent_port}", pricing_timeout_seconds=3.0
    )
    server = start_inventory(settings)
    sku = inventory.client.sku(on_hand=1)
    outcome: list[grpc.StatusCode] = []
    try:
        waiting = threading.Thread(
            target=lambda: outcome.append(
                refusal(server.stub.CreateHold, hold_request({sku: 1}, tier="gold")).code
            )
        )
        waiting.start()
        # While the priced call waits on pricing, a shopper takes the last unit of the same SKU.
        assert inventory.client.hold({sku: 1}).state == ipb.HOLD_STATE_ACTIVE
        assert not outcome, "the unpriced hold should not have waited for the priced one"
        waiting.join()
    finally:
        server.stop()
    assert outcome == [grpc.StatusCode.UNAVAILABLE]


def test_a_retried_priced_hold_replays_even_when_pricing_is_down(
    priced_inventory, database_url: str, inventory
) -> None:
    sku = inventory.client.sku(on_hand=3)
    request = hold_request({sku: 2}, tier="gold")
    first = priced_inventory.stub.CreateHold(request).hold

    settings = make_settings(database_url, pricing_address=f"127.0.0.1:{closed_port()}")
    down = start_inventory(settings)
    try:
        assert down.stub.CreateHold(request).hold == first
    finally:
        down.stop()
    assert inventory.client.level(sku).reserved == 2

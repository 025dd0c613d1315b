"""A table of bad pricing requests: each gets the right code and reason, and the database is
unchanged; and the largest amounts the limits allow are priced exactly."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import field_mask_pb2
from holdfast.inventory.v1 import inventory_pb2 as pb
from holdfast.pricing.v1 import pricing_pb2 as ppb

from holdfast_common.values.money import MAX_AMOUNT_MINOR, Money
from tests.support.bad_input import (
    BAD,
    INVALID,
    Case,
    World,
    assert_refused_and_nothing_written,
    build_world,
    usd,
)
from tests.support.builders import hold_request
from tests.support.grpc_helpers import cents, new_request_id, unique_sku


@pytest.fixture(scope="module")
def world(inventory) -> World:
    return build_world(inventory)


@pytest.fixture(scope="module")
def rule(pricing, world) -> ppb.PriceRule:
    """A BULK rule on the world's SKU, for updates to aim at."""
    return pricing.client.rule(
        name="bulk", stage=ppb.PRICE_STAGE_BULK, percent_off_bps=500, min_quantity=2, sku=world.sku
    )


def _bulk_rule(**scope: Any) -> ppb.PriceRule:
    return ppb.PriceRule(name="r", stage=ppb.PRICE_STAGE_BULK, percent_off_bps=500, min_quantity=2, **scope)


def _create_rule(rule: ppb.PriceRule) -> ppb.CreatePriceRuleRequest:
    return ppb.CreatePriceRuleRequest(request_id=new_request_id(), rule=rule)


PRICING_CASES = [
    # Found by the fuzz: a SKU scope that failed validation still made a Scope, which
    # refused an empty target with a ValueError: INTERNAL.
    Case(
        "rule sku empty",
        "CreatePriceRule",
        lambda w, r: _create_rule(_bulk_rule(sku="")),
        INVALID,
        BAD,
        "rule.sku",
    ),
    Case(
        "rule sku malformed",
        "CreatePriceRule",
        lambda w, r: _create_rule(_bulk_rule(sku="a b")),
        INVALID,
        BAD,
        "rule.sku",
    ),
    Case(
        "update to an empty sku scope",
        "UpdatePriceRule",
        lambda w, r: ppb.UpdatePriceRuleRequest(
            request_id=new_request_id(),
            rule=ppb.PriceRule(id=r.id, sku=""),
            update_mask=field_mask_pb2.FieldMask(paths=["sku"]),
        ),
        INVALID,
        BAD,
        "rule.sku",
    ),
    Case(
        "rule amount_off over the maximum",
        "CreatePriceRule",
        lambda w, r: _create_rule(
            ppb.PriceRule(
                name="r",
                stage=ppb.PRICE_STAGE_TIER,
                customer_tier="gold",
                amount_off=usd(10**10, 10_000_000),
                all_skus=True,
            )
        ),
        INVALID,
        BAD,
        "rule.amount_off",
    ),
    Case(
        "list rules negative page_size",
        "ListPriceRules",
        lambda w, r: ppb.ListPriceRulesRequest(page_size=-1),
        INVALID,
        BAD,
        "page_size",
    ),
    Case(
        "list rules forged token",
        "ListPriceRules",
        lambda w, r: ppb.ListPriceRulesRequest(page_token="bm90IGEgdG9rZW4.deadbeef"),
        INVALID,
        BAD,
        "page_token",
    ),
    Case(
        "list rules token of holds",
        "ListPriceRules",
        lambda w, r: ppb.ListPriceRulesRequest(page_token=w.holds_token),
        INVALID,
        BAD,
        "page_token",
    ),
    Case(
        "quote a hundred bad lines",
        "QuoteCart",
        lambda w, r: ppb.QuoteCartRequest(lines=[ppb.CartLine(sku="a b", quantity=0)] * 100),
        INVALID,
        BAD,
        "lines[0].sku",
    ),
]


@pytest.mark.parametrize("case", PRICING_CASES, ids=[c.id for c in PRICING_CASES])
def test_bad_pricing_request_is_refused_and_writes_nothing(pricing, db, world, rule, case):
    assert_refused_and_nothing_written(pricing.stub, db, case, case.build(world, rule), "holdfast.pricing")
    assert pricing.stub.GetPriceRule(ppb.GetPriceRuleRequest(id=rule.id)).rule == rule


def test_the_dearest_cart_the_limits_allow_is_priced_exactly(inventory, priced_inventory, pricing):
    # Regression: a price near int64 times a line's quantity overflowed google.type.Money
    # (INTERNAL). At the largest amounts accepted, the largest cart still fits.
    top = MAX_AMOUNT_MINOR
    product = inventory.stub.CreateProduct(
        pb.CreateProductRequest(title="dear", base_price=Money(top, "USD").to_proto())
    ).product
    lines, quantity = (
        inventory.settings.holds.max_lines_per_hold,
        inventory.settings.holds.max_quantity_per_line,
    )
    sku = unique_sku("DEAR")
    inventory.stub.CreateVariant(
        pb.CreateVariantRequest(
            product_id=product.id,
            sku=sku,
            price_adjustment=Money(top, "USD").to_proto(),
            initial_on_hand=quantity,
        )
    )
    cart = pricing.stub.QuoteCart(
        ppb.QuoteCartRequest(lines=[ppb.CartLine(sku=sku, quantity=quantity)] * lines)
    ).quote
    assert cents(cart.total) == 2 * top * quantity * lines
    hold = priced_inventory.stub.CreateHold(hold_request({sku: quantity}, owner_id="dear", tier="")).hold
    assert cents(hold.total) == 2 * top * quantity
    priced_inventory.stub.ReleaseHold(pb.ReleaseHoldRequest(request_id=new_request_id(), hold_id=hold.id))

"""PricingService over gRPC: quotes from the real catalog and stored rules, cent for cent."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import psycopg
import pytest
from holdfast.inventory.v1 import inventory_pb2 as ipb
from holdfast.pricing.v1 import pricing_pb2 as pb
from psycopg.rows import dict_row

from holdfast_common.db.pool import AsyncConn
from holdfast_common.values.timestamps import timestamp
from pricing_svc.quotes import load_inputs
from tests.support.grpc_helpers import cents, refusal, unique_sku, usd_cents

SALE_START = datetime(2026, 11, 27, tzinfo=UTC)
SALE_END = datetime(2026, 12, 1, tzinfo=UTC)
IN_SALE = datetime(2026, 11, 28, 12, tzinfo=UTC)
US = timedelta(microseconds=1)

BASE, SEASONAL, BULK, TIER = (
    pb.PRICE_STAGE_BASE,
    pb.PRICE_STAGE_SEASONAL,
    pb.PRICE_STAGE_BULK,
    pb.PRICE_STAGE_TIER,
)


@dataclass
class Shop:
    """Apparel > Outerwear > Jackets; a $59.90 jacket whose red variant is $5.00 off (5490)."""

    apparel: str
    jackets: str
    product: str
    sku: str
    rules: dict[str, pb.PriceRule]


@pytest.fixture(scope="module")
def shop(inventory, pricing) -> Shop:
    def category(name: str, parent: str = "") -> str:
        request = ipb.CreateCategoryRequest(name=f"{name}-{unique_sku()}", parent_id=parent)
        return inventory.stub.CreateCategory(request).category.id

    apparel = category("Apparel")
    jackets = category("Jackets", category("Outerwear", apparel))
    product = inventory.client.product("Jacket", category_id=jackets, price_cents=5990)
    sku = inventory.client.sku(product_id=product.id, adjustment_cents=-500, prefix="JKT")
    window = {"start_time": timestamp(SALE_START), "end_time": timestamp(SALE_END)}
    rules = {
        # On the top category: reaches the jacket two levels down.
        "sale": pricing.client.rule(
            name="Black Friday", stage=SEASONAL, percent_off_bps=2000, category_id=apparel, **window
        ),
        "bulk10": pricing.client.rule(
            name="10+", stage=BULK, percent_off_bps=500, min_quantity=10, product_id=product.id
        ),
        "bulk50": pricing.client.rule(
            name="50+", stage=BULK, percent_off_bps=1000, min_quantity=50, product_id=product.id
        ),
        "gold": pricing.client.rule(
            name="Gold", stage=TIER, amount_off=usd_cents(200), customer_tier="gold", sku=sku
        ),
    }
    return Shop(apparel, jackets, product.id, sku, rules)


def steps(quote: pb.PriceQuote) -> list[tuple[int, str, int, int]]:
    return [(s.stage, s.rule_id, cents(s.unit_price_before), cents(s.unit_price_after)) for s in quote.steps]


def test_gold_customer_at_bulk_quantity_during_the_sale(shop: Shop, pricing) -> None:
    quote = pricing.client.quote(shop.sku, 50, "gold", IN_SALE)
    r = shop.rules
    assert steps(quote) == [
        (BASE, "", 5490, 5490),  # 5990 - 500
        (SEASONAL, r["sale"].id, 5490, 4392),  # 5490 x 0.80 = 4392 exactly
        (BULK, r["bulk50"].id, 4392, 3953),  # 4392 x 0.90 = 3952.8 -> 3953
        (TIER, r["gold"].id, 3953, 3753),  # 3953 - 200
    ]
    assert (cents(quote.base_unit_price), cents(quote.unit_price)) == (5490, 3753)
    assert cents(quote.line_total) == 3753 * 50 == 187_650
    assert quote.steps[1].description.startswith("Black Friday: 20% off")


@pytest.mark.parametrize(
    ("quantity", "tier", "at", "unit"),
    [
        (1, "", IN_SALE, 4392),  # sale only
        (9, "", IN_SALE, 4392),  # one short of the first bulk tier
        (10, "", IN_SALE, 4172),  # 4392 x 0.95 = 4172.4 -> 4172
        (49, "", IN_SALE, 4172),
        (50, "", IN_SALE, 3953),
        (1, "gold", SALE_END, 5290),  # the window is over: 5490 - 200
        (1, "Gold", IN_SALE, 4392),  # tiers match exactly
        (10, "silver", SALE_START - US, 5216),  # before the sale: 5490 x 0.95 = 5215.5 -> 5216 (even)
    ],
)
def test_stages_combine_by_quantity_tier_and_time(
    shop: Shop,
    pricing,
    quantity: int,
    tier: str,
    at: datetime,
    unit: int,
) -> None:
    quote = pricing.client.quote(shop.sku, quantity, tier, at)
    assert cents(quote.unit_price) == unit
    assert cents(quote.line_total) == unit * quantity


@pytest.mark.parametrize(
    ("at", "on_sale"),
    [
        (SALE_START - US, False),
        (SALE_START, True),
        (SALE_END - US, True),
        (SALE_END, False),
    ],
)
def test_the_sale_window_is_half_open(shop: Shop, pricing, at: datetime, on_sale: bool) -> None:
    stages = [s.stage for s in pricing.client.quote(shop.sku, 1, "", at).steps]
    assert (SEASONAL in stages) is on_sale


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        (1005, 502),  # 502.5 -> 502: the even neighbour is below
        (1015, 508),  # 507.5 -> 508: the even neighbour is above
        (1001, 500),  # 500.5 -> 500
        (1003, 502),  # 501.5 -> 502
    ],
)
def test_half_cents_round_to_even_both_ways(inventory, pricing, price: int, expected: int) -> None:
    sku = inventory.client.sku(product_id=inventory.client.product(price_cents=price).id)
    pricing.client.rule(stage=BULK, percent_off_bps=5000, min_quantity=2, sku=sku)
    assert cents(pricing.client.quote(sku, 2).unit_price) == expected
    assert cents(pricing.client.quote(sku, 1).unit_price) == price


def test_a_price_never_goes_below_zero(inventory, pricing) -> None:
    sku = inventory.client.sku(product_id=inventory.client.product(price_cents=150).id)
    pricing.client.rule(stage=TIER, amount_off=usd_cents(500), customer_tier="vip", sku=sku)
    quote = pricing.client.quote(sku, 3, "vip")
    assert (cents(quote.unit_price), cents(quote.line_total)) == (0, 0)


def test_the_same_inputs_give_byte_identical_quotes(shop: Shop, pricing) -> None:
    request = pb.QuotePriceRequest(
        sku=shop.sku, quantity=50, customer_tier="gold", price_time=timestamp(IN_SALE)
    )
    first = pricing.stub.QuotePrice(request).SerializeToString(deterministic=True)
    assert pricing.stub.QuotePrice(request).SerializeToString(deterministic=True) == first


def test_an_unset_price_time_means_now(shop: Shop, pricing) -> None:
    before = datetime.now(UTC)
    response = pricing.stub.QuotePrice(pb.QuotePriceRequest(sku=shop.sku, quantity=1))
    priced_at = response.price_time.ToDatetime(tzinfo=UTC)
    assert before - timedelta(seconds=5) < priced_at < datetime.now(UTC) + timedelta(seconds=5)


def test_cart_quote_sums_lines_per_sku(shop: Shop, inventory, pricing) -> None:
    plain = inventory.client.sku(product_id=inventory.client.product(price_cents=999).id)
    request = pb.QuoteCartRequest(
        lines=[
            pb.CartLine(sku=shop.sku, quantity=30),
            pb.CartLine(sku=plain, quantity=2),
            pb.CartLine(sku=shop.sku, quantity=20),  # merged: 50 jackets reach the 50+ tier
        ],
        customer_tier="gold",
        price_time=timestamp(IN_SALE),
    )
    cart = pricing.stub.QuoteCart(request).quote
    by_sku = {line.sku: line for line in cart.lines}
    assert [line.sku for line in cart.lines] == sorted(by_sku)
    assert (by_sku[shop.sku].quantity, cents(by_sku[shop.sku].unit_price)) == (50, 3753)
    assert cents(by_sku[plain].line_total) == 1998
    assert cents(cart.total) == 187_650 + 1998


def test_rule_changes_reach_the_next_quote(inventory, pricing) -> None:
    sku = inventory.client.sku(product_id=inventory.client.product(price_cents=2000).id)
    rule = pricing.client.rule(stage=TIER, percent_off_bps=1000, customer_tier="gold", sku=sku)
    assert cents(pricing.client.quote(sku, 1, "gold").unit_price) == 1800

    update = pb.UpdatePriceRuleRequest(
        request_id=unique_sku("upd"),
        rule=pb.PriceRule(id=rule.id, percent_off_bps=2500),
        update_mask={"paths": ["percent_off_bps"]},
    )
    updated = pricing.stub.UpdatePriceRule(update).rule
    assert (updated.percent_off_bps, updated.name, updated.customer_tier) == (2500, rule.name, "gold")
    assert cents(pricing.client.quote(sku, 1, "gold").unit_price) == 1500

    pause = pb.UpdatePriceRuleRequest(
        request_id=unique_sku("off"),
        rule=pb.PriceRule(id=rule.id, active=False),
        update_mask={"paths": ["active"]},
    )
    assert pricing.stub.UpdatePriceRule(pause).rule.active is False
    assert [s.stage for s in pricing.client.quote(sku, 1, "gold").steps] == [BASE]

    pricing.stub.DeletePriceRule(pb.DeletePriceRuleRequest(request_id=unique_sku("del"), id=rule.id))
    gone = refusal(pricing.stub.GetPriceRule, pb.GetPriceRuleRequest(id=rule.id))
    assert (gone.code, gone.reason) == (grpc.StatusCode.NOT_FOUND, "PRICE_RULE_NOT_FOUND")


def test_an_update_can_swap_the_discount_and_scope(shop: Shop, inventory, pricing) -> None:
    sku = inventory.client.sku(product_id=inventory.client.product(price_cents=1000).id)
    rule = pricing.client.rule(stage=BULK, percent_off_bps=1000, min_quantity=2, sku=shop.sku)
    request = pb.UpdatePriceRuleRequest(
        request_id=unique_sku("swap"),
        rule=pb.PriceRule(id=rule.id, amount_off=usd_cents(150), sku=sku),
        update_mask={"paths": ["amount_off", "sku"]},
    )
    updated = pricing.stub.UpdatePriceRule(request).rule
    assert updated.WhichOneof("discount") == "amount_off" and cents(updated.amount_off) == 150
    assert updated.sku == sku
    assert cents(pricing.client.quote(sku, 2).unit_price) == 850
    pricing.stub.DeletePriceRule(pb.DeletePriceRuleRequest(request_id=unique_sku("del"), id=rule.id))


def test_an_update_that_breaks_a_rule_is_refused_and_changes_nothing(shop: Shop, pricing) -> None:
    sale = shop.rules["sale"]
    request = pb.UpdatePriceRuleRequest(
        request_id=unique_sku("bad"),
        rule=pb.PriceRule(id=sale.id, end_time=timestamp(SALE_START - timedelta(days=1))),
        update_mask={"paths": ["end_time"]},
    )
    failure = refusal(pricing.stub.UpdatePriceRule, request)
    assert failure.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in failure.field_violations] == ["rule.end_time"]
    unknown_path = pb.UpdatePriceRuleRequest(
        request_id=unique_sku("bad"), rule=pb.PriceRule(id=sale.id), update_mask={"paths": ["create_time"]}
    )
    assert [f for f, _ in refusal(pricing.stub.UpdatePriceRule, unknown_path).field_violations] == [
        "update_mask"
    ]
    assert pricing.stub.GetPriceRule(pb.GetPriceRuleRequest(id=sale.id)).rule == sale


def test_rules_are_listed_in_pages_oldest_first(shop: Shop, pricing) -> None:
    seen: list[str] = []
    token = ""
    while True:
        page = pricing.stub.ListPriceRules(pb.ListPriceRulesRequest(page_size=2, page_token=token))
        assert len(page.rules) <= 2
        seen += [r.id for r in page.rules]
        token = page.next_page_token
        if not token:
            break
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    assert {r.id for r in shop.rules.values()} <= set(seen)


def test_a_retried_create_makes_one_rule(pricing) -> None:
    request = pb.CreatePriceRuleRequest(
        request_id=unique_sku("once"),
        rule=pb.PriceRule(name="once", stage=TIER, percent_off_bps=100, customer_tier="x", all_skus=True),
    )
    first = pricing.stub.CreatePriceRule(request).rule
    assert pricing.stub.CreatePriceRule(request).rule == first
    request.rule.percent_off_bps = 200
    reused = refusal(pricing.stub.CreatePriceRule, request)
    assert reused.reason == "IDEMPOTENCY_KEY_REUSED"
    pricing.stub.DeletePriceRule(pb.DeletePriceRuleRequest(request_id=unique_sku("del"), id=first.id))


def test_rules_are_created_active_unless_told_otherwise(pricing) -> None:
    on = pricing.client.rule(stage=TIER, percent_off_bps=100, customer_tier="nobody")
    off = pricing.client.rule(stage=TIER, percent_off_bps=100, customer_tier="nobody", active=False)
    assert (on.active, off.active) == (True, False)
    for rule in (on, off):
        pricing.stub.DeletePriceRule(pb.DeletePriceRuleRequest(request_id=unique_sku("del"), id=rule.id))


@pytest.mark.parametrize(
    ("fields", "bad_field"),
    [
        ({"percent_off_bps": 0}, "rule.percent_off_bps"),
        ({"percent_off_bps": 10_001}, "rule.percent_off_bps"),
        ({"percent_off_bps": -5}, "rule.percent_off_bps"),
        ({"percent_off_bps": None, "amount_off": usd_cents(0)}, "rule.amount_off"),
        ({"percent_off_bps": None, "amount_off": usd_cents(-100)}, "rule.amount_off"),
        (
            {"percent_off_bps": None, "amount_off": {"currency_code": "EUR", "units": 1}},
            "rule.amount_off.currency_code",
        ),
        (
            {"percent_off_bps": None, "amount_off": {"currency_code": "USD", "nanos": 5_000_000}},
            "rule.amount_off.nanos",
        ),
        ({"percent_off_bps": None}, "rule.discount"),
        ({"min_quantity": 1}, "rule.min_quantity"),
        ({"min_quantity": 0}, "rule.min_quantity"),
        ({"stage": pb.PRICE_STAGE_UNSPECIFIED}, "rule.stage"),
        ({"stage": BASE}, "rule.stage"),
        ({"name": ""}, "rule.name"),
        ({"all_skus": None}, "rule.scope"),
        ({"all_skus": False}, "rule.all_skus"),
        ({"all_skus": None, "category_id": "not-a-uuid"}, "rule.category_id"),
        ({"all_skus": None, "category_id": "00000000-0000-0000-0000-00000000abcd"}, "rule.category_id"),
        ({"all_skus": None, "product_id": "00000000-0000-0000-0000-00000000abcd"}, "rule.product_id"),
        ({"all_skus": None, "sku": "NO-SUCH-SKU"}, "rule.sku"),
        ({"all_skus": None, "sku": "bad sku!"}, "rule.sku"),
        ({"customer_tier": "gold"}, "rule.customer_tier"),
        ({"start_time": timestamp(SALE_START)}, "rule.start_time"),
    ],
)
def test_invalid_bulk_rules_are_refused_naming_the_field(pricing, fields: dict, bad_field: str) -> None:
    rule: dict[str, Any] = {
        "name": "bulk",
        "stage": BULK,
        "percent_off_bps": 500,
        "min_quantity": 5,
        "all_skus": True,
    }
    rule.update(fields)
    message = pb.PriceRule(**{k: v for k, v in rule.items() if v is not None})
    failure = refusal(pricing.stub.CreatePriceRule, pb.CreatePriceRuleRequest(request_id="r1", rule=message))
    assert failure.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in failure.field_violations] == [bad_field]


@pytest.mark.parametrize(
    ("fields", "bad_fields"),
    [
        ({"start_time": timestamp(SALE_END), "end_time": timestamp(SALE_START)}, ["rule.end_time"]),
        ({"start_time": timestamp(SALE_START), "end_time": timestamp(SALE_START)}, ["rule.end_time"]),
        ({"start_time": timestamp(SALE_START)}, ["rule.end_time"]),
        ({}, ["rule.start_time", "rule.end_time"]),
        (
            {"start_time": timestamp(SALE_START), "end_time": timestamp(SALE_END), "min_quantity": 3},
            ["rule.min_quantity"],
        ),
    ],
)
def test_invalid_seasonal_rules_are_refused(pricing, fields: dict, bad_fields: list[str]) -> None:
    message = pb.PriceRule(name="sale", stage=SEASONAL, percent_off_bps=500, all_skus=True, **fields)
    failure = refusal(pricing.stub.CreatePriceRule, pb.CreatePriceRuleRequest(request_id="r2", rule=message))
    assert failure.code == grpc.StatusCode.INVALID_ARGUMENT
    assert sorted(f for f, _ in failure.field_violations) == sorted(bad_fields)


def test_a_tier_rule_needs_its_tier(pricing) -> None:
    message = pb.PriceRule(name="tier", stage=TIER, percent_off_bps=500, all_skus=True)
    failure = refusal(pricing.stub.CreatePriceRule, pb.CreatePriceRuleRequest(request_id="r3", rule=message))
    assert [f for f, _ in failure.field_violations] == ["rule.customer_tier"]


@pytest.mark.parametrize(
    ("request_fields", "code", "detail"),
    [
        ({"sku": "NO-SUCH-SKU", "quantity": 1}, grpc.StatusCode.NOT_FOUND, "SKU_NOT_FOUND"),
        ({"sku": "", "quantity": 1}, grpc.StatusCode.INVALID_ARGUMENT, "sku"),
        ({"sku": "A", "quantity": 0}, grpc.StatusCode.INVALID_ARGUMENT, "quantity"),
        ({"sku": "A", "quantity": 10**9}, grpc.StatusCode.INVALID_ARGUMENT, "quantity"),
        (
            {"sku": "A", "quantity": 1, "customer_tier": "no spaces"},
            grpc.StatusCode.INVALID_ARGUMENT,
            "customer_tier",
        ),
    ],
)
def test_bad_quote_requests_are_refused(
    pricing, request_fields: dict, code: grpc.StatusCode, detail: str
) -> None:
    failure = refusal(pricing.stub.QuotePrice, pb.QuotePriceRequest(**request_fields))
    assert failure.code == code
    assert detail in (failure.reason, *[f for f, _ in failure.field_violations])


def test_a_cart_with_unknown_skus_names_them_all(shop: Shop, pricing) -> None:
    request = pb.QuoteCartRequest(
        lines=[
            pb.CartLine(sku="GHOST-2", quantity=1),
            pb.CartLine(sku=shop.sku, quantity=1),
            pb.CartLine(sku="GHOST-1", quantity=1),
        ]
    )
    failure = refusal(pricing.stub.QuoteCart, request)
    assert (failure.code, failure.metadata["skus"]) == (grpc.StatusCode.NOT_FOUND, "GHOST-1,GHOST-2")


class CountingConnection:
    """Counts the statements a quote sends to the database."""

    def __init__(self, conn: AsyncConn) -> None:
        self._conn = conn
        self.statements = 0

    async def execute(self, *args, **kwargs):
        self.statements += 1
        return await self._conn.execute(*args, **kwargs)


def test_a_cart_costs_two_queries_however_long_it_is(shop: Shop, inventory, database_url: str) -> None:
    many = [inventory.client.sku(prefix="MANY") for _ in range(40)]

    async def statements_for(skus: list[str]) -> tuple[int, int]:
        async with await psycopg.AsyncConnection.connect(
            database_url, autocommit=True, row_factory=dict_row
        ) as conn:
            counting = CountingConnection(conn)
            inputs = await load_inputs(counting, skus, ["gold"], IN_SALE)  # type: ignore[arg-type]
            return counting.statements, len(inputs.pricing)

    assert asyncio.run(statements_for([shop.sku])) == (2, 1)
    assert asyncio.run(statements_for([shop.sku, *many])) == (2, 41)


def test_an_update_without_a_mask_writes_the_fields_it_sets(inventory, pricing) -> None:
    sku = inventory.client.sku()
    rule = pricing.client.rule(name="before", stage=BULK, percent_off_bps=700, min_quantity=3, sku=sku)
    request = pb.UpdatePriceRuleRequest(
        request_id=unique_sku("u"), rule=pb.PriceRule(id=rule.id, name="after")
    )
    updated = pricing.stub.UpdatePriceRule(request).rule
    assert (updated.name, updated.percent_off_bps, updated.min_quantity, updated.sku) == (
        "after",
        700,
        3,
        sku,
    )
    assert updated.update_time.ToDatetime() >= rule.update_time.ToDatetime()
    assert updated.create_time == rule.create_time


def test_a_star_mask_replaces_the_whole_rule(inventory, pricing) -> None:
    sku = inventory.client.sku()
    rule = pricing.client.rule(name="bulk", stage=BULK, percent_off_bps=700, min_quantity=3, sku=sku)
    replacement = pb.PriceRule(
        id=rule.id,
        name="now a tier rule",
        stage=TIER,
        amount_off=usd_cents(50),
        customer_tier="gold",
        all_skus=True,
    )
    request = pb.UpdatePriceRuleRequest(
        request_id=unique_sku("u"), rule=replacement, update_mask={"paths": ["*"]}
    )
    updated = pricing.stub.UpdatePriceRule(request).rule
    assert (updated.stage, updated.min_quantity, updated.customer_tier) == (TIER, 0, "gold")
    assert (updated.WhichOneof("discount"), updated.WhichOneof("scope")) == ("amount_off", "all_skus")
    pricing.stub.DeletePriceRule(pb.DeletePriceRuleRequest(request_id=unique_sku("del"), id=rule.id))


def test_updating_or_deleting_an_unknown_rule_is_not_found(pricing) -> None:
    ghost = "01900000-0000-7000-8000-000000000000"
    update = pb.UpdatePriceRuleRequest(request_id="u-ghost", rule=pb.PriceRule(id=ghost, name="x"))
    delete = pb.DeletePriceRuleRequest(request_id="d-ghost", id=ghost)
    for call, request in ((pricing.stub.UpdatePriceRule, update), (pricing.stub.DeletePriceRule, delete)):
        assert refusal(call, request).reason == "PRICE_RULE_NOT_FOUND"

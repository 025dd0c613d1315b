"""pricing_svc.engine: golden quotes worked out by hand, and properties that hold for any rule set."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pricing_svc.engine import (
    PriceQuote,
    PriceRule,
    Scope,
    SkuPricing,
    Stage,
    quote_cart,
    quote_line,
)
from pricing_svc.engine.rounding import div_round_half_even
from pricing_svc.engine.stages import STAGES, LineContext

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
US = timedelta(microseconds=1)

# Apparel > Outerwear > Jackets; the jacket's ancestry reaches the top.
JACKET = SkuPricing(
    sku="JKT-M-RED",
    product_id="prod-jacket",
    category_ids=frozenset({"cat-jackets", "cat-outerwear", "cat-apparel"}),
    base_price_minor=5990,
    price_adjustment_minor=-500,
    currency="USD",
)


def item(base: int, adjustment: int = 0, *, currency: str = "USD", sku: str = "SKU-1") -> SkuPricing:
    return SkuPricing(sku, "prod-1", frozenset({"cat-1"}), base, adjustment, currency)


def discount(bp: int | None, off: int | None) -> dict[str, Any]:
    return {"percent_off_bp": bp, "amount_off_minor": off}


def seasonal(
    rule_id: str,
    *,
    bp: int | None = None,
    off: int | None = None,
    start: datetime = T0 - DAY,
    end: datetime = T0 + DAY,
    **kw: Any,
) -> PriceRule:
    return PriceRule(
        id=rule_id,
        name=kw.pop("name", rule_id),
        stage=Stage.SEASONAL,
        start_time=start,
        end_time=end,
        **discount(bp, off),
        **kw,
    )


def bulk(
    rule_id: str, min_quantity: int, *, bp: int | None = None, off: int | None = None, **kw: Any
) -> PriceRule:
    return PriceRule(
        id=rule_id,
        name=kw.pop("name", rule_id),
        stage=Stage.BULK,
        min_quantity=min_quantity,
        **discount(bp, off),
        **kw,
    )


def tier(
    rule_id: str, customer_tier: str, *, bp: int | None = None, off: int | None = None, **kw: Any
) -> PriceRule:
    return PriceRule(
        id=rule_id,
        name=kw.pop("name", rule_id),
        stage=Stage.TIER,
        customer_tier=customer_tier,
        **discount(bp, off),
        **kw,
    )


def trail(quote: PriceQuote) -> list[tuple[Stage, str | None, int]]:
    """Each step as (stage, rule, price after): enough to pin a quote down."""
    return [(s.stage, s.rule_id, s.unit_price_after) for s in quote.steps]


B, S, K, T = Stage.BASE, Stage.SEASONAL, Stage.BULK, Stage.TIER


def sale(*, bp: int | None = None, off: int | None = None) -> PriceRule:
    """A running seasonal rule "s" on everything."""
    return seasonal("s", bp=bp, off=off)


def case(name: str, pricing: SkuPricing, rules: list[PriceRule], expected: list[Any], **kw: Any) -> Any:
    return pytest.param(pricing, rules, kw.get("quantity", 1), kw.get("tier", ""), expected, id=name)


# Expected trails; the last price is the unit price.
GOLDEN = [
    case("base-plus-variant", JACKET, [], [(B, None, 5490)]),
    # 1999 * 0.85 = 1699.15 -> 1699
    case("15pct", item(1999), [sale(bp=1500)], [(B, None, 1999), (S, "s", 1699)]),
    # 999 * 0.85 = 849.15 -> 849 (down); 1001 * 0.85 = 850.85 -> 851 (up)
    case("round-down", item(999), [sale(bp=1500)], [(B, None, 999), (S, "s", 849)]),
    case("round-up", item(1001), [sale(bp=1500)], [(B, None, 1001), (S, "s", 851)]),
    # Exact halves go to the even neighbour: 1005 * 0.5 = 502.5 -> 502; 1015 * 0.5 = 507.5 -> 508
    case("half-down", item(1005), [sale(bp=5000)], [(B, None, 1005), (S, "s", 502)]),
    case("half-up", item(1015), [sale(bp=5000)], [(B, None, 1015), (S, "s", 508)]),
    # 12.5% off: 1004 * 0.875 = 878.5 -> 878; 1012 * 0.875 = 885.5 -> 886
    case("12.5pct-half-down", item(1004), [sale(bp=1250)], [(B, None, 1004), (S, "s", 878)]),
    case("12.5pct-half-up", item(1012), [sale(bp=1250)], [(B, None, 1012), (S, "s", 886)]),
    # 1 bp: 5000 * 0.9999 = 4999.5 -> 5000 (no change, but the step is listed);
    # 15000 * 0.9999 = 14998.5 -> 14998
    case("1bp-no-change", item(5000), [sale(bp=1)], [(B, None, 5000), (S, "s", 5000)]),
    case("1bp", item(15000), [sale(bp=1)], [(B, None, 15000), (S, "s", 14998)]),
    case("100pct", item(4321), [sale(bp=10000)], [(B, None, 4321), (S, "s", 0)], quantity=3),
    # JPY has no sub-unit, so its minor unit is the yen: 1001 * 0.85 = 850.85 -> 851
    case("jpy", item(1001, currency="JPY"), [sale(bp=1500)], [(B, None, 1001), (S, "s", 851)]),
    # 5490 - 500 = 4990
    case("amount-off", JACKET, [sale(off=500)], [(B, None, 5490), (S, "s", 4990)]),
    # 250 - 300 < 0 -> 0
    case("amount-floors-at-0", item(250), [sale(off=300)], [(B, None, 250), (S, "s", 0)], quantity=4),
    # 100 + (-500) < 0 -> 0 before any rule
    case("base-floors-at-0", item(100, -500), [sale(off=1)], [(B, None, 0), (S, "s", 0)]),
    # Each stage rounds: 104 * 0.9 = 93.6 -> 94; 94 * 0.9 = 84.6 -> 85 (compounded: 84.24 -> 84)
    case(
        "each-stage-rounds",
        item(104),
        [sale(bp=1000), tier("t", "gold", bp=1000)],
        [(B, None, 104), (S, "s", 94), (T, "t", 85)],
        tier="gold",
    ),
    # Gold customer, 12 units, during a sale:
    # 5490 * 0.8 = 4392; 4392 * 0.95 = 4172.4 -> 4172; 4172 * 0.97 = 4046.84 -> 4047
    case(
        "all-four-stages",
        JACKET,
        [tier("gold", "gold", bp=300), bulk("bulk10", 10, bp=500), seasonal("summer", bp=2000)],
        [(B, None, 5490), (S, "summer", 4392), (K, "bulk10", 4172), (T, "gold", 4047)],
        quantity=12,
        tier="gold",
    ),
]


@pytest.mark.parametrize(("pricing", "rules", "quantity", "customer_tier", "expected"), GOLDEN)
def test_golden_quotes(
    pricing: SkuPricing,
    rules: list[PriceRule],
    quantity: int,
    customer_tier: str,
    expected: list[tuple[Stage, str | None, int]],
) -> None:
    quote = quote_line(pricing, rules, quantity, customer_tier, T0)
    assert trail(quote) == expected
    assert quote.unit_price == expected[-1][2]
    assert quote.base_unit_price == expected[0][2]
    assert quote.line_total == quote.unit_price * quantity
    assert (quote.sku, quote.quantity, quote.currency) == (pricing.sku, quantity, pricing.currency)


def test_gold_bulk_sale_quote_in_full() -> None:
    rules = [
        tier("gold", "gold", bp=300, name="Gold members"),
        bulk("bulk10", 10, bp=500, name="Bulk 10+"),
        seasonal("summer", bp=2000, name="Summer sale"),
    ]
    quote = quote_line(JACKET, rules, 12, "gold", T0)
    assert [(s.stage, s.description, s.unit_price_before, s.unit_price_after) for s in quote.steps] == [
        (B, "base 59.90 USD + variant -5.00 USD", 5490, 5490),
        (
            S,
            "Summer sale: 20% off (from 2025-05-31T12:00:00+00:00 until 2025-06-02T12:00:00+00:00)",
            5490,
            4392,
        ),
        (K, "Bulk 10+: 5% off (quantity >= 10)", 4392, 4172),
        (T, "Gold members: 3% off (tier gold)", 4172, 4047),
    ]
    assert quote.line_total == 48564  # 4047 * 12


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        (seasonal("s", bp=1250), "12.5% off"),
        (seasonal("s", bp=1), "0.01% off"),
        (seasonal("s", bp=10000), "100% off"),
        (seasonal("s", off=500), "5.00 USD off"),
        (seasonal("s", off=7), "0.07 USD off"),
    ],
)
def test_step_descriptions_name_the_discount(rule: PriceRule, text: str) -> None:
    assert f"s: {text} (" in quote_line(item(1000), [rule], 1, "", T0).steps[1].description


def test_negative_base_is_explained() -> None:
    base_step = quote_line(item(100, -500), [], 1, "", T0).steps[0]
    assert base_step.description == "base 1.00 USD + variant -5.00 USD (floored at 0)"


@pytest.mark.parametrize(
    ("at", "applies"),
    [
        (T0 - US, False),
        (T0, True),  # at start: applies
        (T0 + DAY - US, True),
        (T0 + DAY, False),  # at end: does not
    ],
)
def test_seasonal_window_is_half_open(at: datetime, applies: bool) -> None:
    rule = seasonal("s", bp=1000, start=T0, end=T0 + DAY)
    assert quote_line(item(1000), [rule], 1, "", at).unit_price == (900 if applies else 1000)


def test_window_compares_instants_across_time_zones() -> None:
    rule = seasonal("s", bp=1000, start=T0, end=T0 + DAY)
    plus_two = timezone(timedelta(hours=2))
    assert quote_line(item(1000), [rule], 1, "", T0.astimezone(plus_two)).unit_price == 900
    assert quote_line(item(1000), [rule], 1, "", (T0 - US).astimezone(plus_two)).unit_price == 1000


BULK_TIERS = [bulk("b10", 10, bp=500), bulk("b50", 50, bp=1000)]


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        (9, [(B, None, 1000)]),
        (10, [(B, None, 1000), (K, "b10", 950)]),  # 1000 * 0.95
        (49, [(B, None, 1000), (K, "b10", 950)]),
        (50, [(B, None, 1000), (K, "b50", 900)]),  # both apply; 1000 * 0.90 is lower
        (500, [(B, None, 1000), (K, "b50", 900)]),
    ],
)
def test_bulk_tiers(quantity: int, expected: list[tuple[Stage, str | None, int]]) -> None:
    quote = quote_line(item(1000), BULK_TIERS, quantity, "", T0)
    assert trail(quote) == expected
    assert quote.line_total == expected[-1][2] * quantity


def test_bulk_picks_the_lowest_price_not_the_highest_threshold() -> None:
    rules = [bulk("b10", 10, bp=2000), bulk("b50", 50, bp=1000)]
    assert trail(quote_line(item(1000), rules, 50, "", T0))[-1] == (K, "b10", 800)


@pytest.mark.parametrize(
    ("customer_tier", "price"), [("gold", 950), ("silver", 1000), ("", 1000), ("Gold", 1000)]
)
def test_tier_must_match_exactly(customer_tier: str, price: int) -> None:
    assert quote_line(item(1000), [tier("t", "gold", bp=500)], 1, customer_tier, T0).unit_price == price


@pytest.mark.parametrize(
    ("rules", "winner"),
    [
        # 1000 * 0.9 = 900 = 1000 - 100: same price, priority 1 beats 2 whatever the ids
        ([seasonal("a", bp=1000, priority=2), seasonal("b", off=100, priority=1)], "b"),
        # same price and priority: the lower id
        ([seasonal("b", bp=1000, priority=1), seasonal("a", off=100, priority=1)], "a"),
        # a lower price beats a lower priority number
        ([seasonal("a", bp=1000, priority=0), seasonal("b", off=200, priority=9)], "b"),
        # negative priorities sort first
        ([seasonal("a", off=100, priority=0), seasonal("b", off=100, priority=-1)], "b"),
    ],
)
def test_tie_breaks(rules: list[PriceRule], winner: str) -> None:
    for ordering in (rules, rules[::-1]):
        assert quote_line(item(1000), ordering, 1, "", T0).steps[1].rule_id == winner


def test_inactive_rules_never_apply() -> None:
    rules = [seasonal("off", bp=9000, active=False), seasonal("on", bp=1000)]
    assert trail(quote_line(item(1000), rules, 1, "", T0)) == [(B, None, 1000), (S, "on", 900)]
    assert trail(quote_line(item(1000), rules[:1], 1, "", T0)) == [(B, None, 1000)]


@pytest.mark.parametrize(
    ("scope", "applies"),
    [
        (Scope.all(), True),
        (Scope.sku("JKT-M-RED"), True),
        (Scope.sku("JKT-L-RED"), False),
        (Scope.product("prod-jacket"), True),
        (Scope.product("prod-boots"), False),
        (Scope.category("cat-jackets"), True),  # the product's own category
        (Scope.category("cat-apparel"), True),  # an ancestor: the jacket sits in a sub-category
        (Scope.category("cat-footwear"), False),
    ],
)
def test_scopes(scope: Scope, applies: bool) -> None:
    quote = quote_line(JACKET, [seasonal("s", off=490, scope=scope)], 1, "", T0)
    assert quote.unit_price == (5000 if applies else 5490)


def test_rules_of_other_stages_and_scopes_are_ignored() -> None:
    rules = [
        seasonal("future", bp=5000, start=T0 + DAY, end=T0 + 2 * DAY),
        bulk("big", 100, bp=5000),
        tier("vip", "vip", bp=5000),
        seasonal("elsewhere", bp=5000, scope=Scope.category("cat-footwear")),
    ]
    assert trail(quote_line(JACKET, rules, 5, "gold", T0)) == [(B, None, 5490)]


def test_identical_duplicate_rules_count_once_and_conflicting_ids_are_rejected() -> None:
    rule = seasonal("s", off=100)
    assert quote_line(item(1000), [rule, rule], 1, "", T0).unit_price == 900
    with pytest.raises(ValueError, match="share the id"):
        quote_line(item(1000), [rule, seasonal("s", off=200)], 1, "", T0)


@pytest.mark.parametrize("quantity", [0, -1, True, 1.0])
def test_quantity_must_be_a_positive_int(quantity: Any) -> None:
    with pytest.raises(ValueError, match="quantity"):
        quote_line(item(1000), [], quantity, "", T0)


def test_naive_times_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        quote_line(item(1000), [], 1, "", T0.replace(tzinfo=None))


@pytest.mark.parametrize(
    "fields",
    [
        {"stage": Stage.BASE, "percent_off_bp": 100},
        {"stage": Stage.TIER, "customer_tier": "gold"},  # no discount
        {"stage": Stage.TIER, "customer_tier": "gold", "percent_off_bp": 100, "amount_off_minor": 1},
        {"stage": Stage.TIER, "customer_tier": "gold", "percent_off_bp": 0},
        {"stage": Stage.TIER, "customer_tier": "gold", "percent_off_bp": 10001},
        {"stage": Stage.TIER, "customer_tier": "gold", "amount_off_minor": 0},
        {"stage": Stage.TIER, "customer_tier": "", "amount_off_minor": 1},
        {"stage": Stage.TIER, "customer_tier": "gold", "amount_off_minor": 1, "min_quantity": 5},
        {"stage": Stage.BULK, "amount_off_minor": 1},
        {"stage": Stage.BULK, "min_quantity": 0, "amount_off_minor": 1},
        {"stage": Stage.BULK, "min_quantity": 5, "amount_off_minor": 1, "customer_tier": "gold"},
        {"stage": Stage.BULK, "min_quantity": 5, "amount_off_minor": 1, "end_time": T0},
        {"stage": Stage.SEASONAL, "amount_off_minor": 1, "start_time": T0},
        {"stage": Stage.SEASONAL, "amount_off_minor": 1, "start_time": T0, "end_time": T0},
        {"stage": Stage.SEASONAL, "amount_off_minor": 1, "start_time": T0 + DAY, "end_time": T0},
        {
            "stage": Stage.SEASONAL,
            "amount_off_minor": 1,
            "start_time": T0.replace(tzinfo=None),
            "end_time": (T0 + DAY).replace(tzinfo=None),
        },
        {"id": "", "stage": Stage.TIER, "customer_tier": "gold", "amount_off_minor": 1},
    ],
)
def test_invalid_rules_are_rejected(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        PriceRule(**{"id": "r", "name": "r", **fields})


def test_plain_strings_become_enums() -> None:
    assert Scope("SKU", "JKT-M-RED").covers(JACKET)  # type: ignore[arg-type]
    rule = PriceRule(id="r", name="r", stage="TIER", customer_tier="gold", amount_off_minor=1)  # type: ignore[arg-type]
    assert rule.stage is Stage.TIER
    assert quote_line(JACKET, [rule], 1, "gold", T0).unit_price == 5489


@pytest.mark.parametrize(("kind", "target"), [("ALL", "x"), ("SKU", None), ("CATEGORY", ""), ("ANY", None)])
def test_invalid_scopes_are_rejected(kind: str, target: str | None) -> None:
    with pytest.raises(ValueError):
        Scope(kind, target)  # type: ignore[arg-type]


def test_cart_merges_lines_per_sku_sorted_and_totals() -> None:
    b = item(2000, sku="SKU-B")
    a = item(1000, sku="SKU-A")
    cart = quote_cart([(b, 6), (a, 1), (b, 4)], BULK_TIERS, "", T0)
    assert [(q.sku, q.quantity, q.unit_price, q.line_total) for q in cart.lines] == [
        ("SKU-A", 1, 1000, 1000),
        ("SKU-B", 10, 1900, 19000),  # 6 + 4 reaches the 10-tier: 2000 * 0.95
    ]
    assert (cart.currency, cart.total) == ("USD", 20000)


def test_cart_rejects_mixed_currencies_empty_carts_and_conflicting_prices() -> None:
    with pytest.raises(ValueError, match="one currency"):
        quote_cart([(item(1, sku="A"), 1), (item(1, currency="EUR", sku="B"), 1)], [], "", T0)
    with pytest.raises(ValueError, match="at least one"):
        quote_cart([], [], "", T0)
    with pytest.raises(ValueError, match="two different prices"):
        quote_cart([(item(1), 1), (item(2), 1)], [], "", T0)


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (5, 2, 2),
        (7, 2, 4),
        (-5, 2, -2),
        (-7, 2, -4),
        (1, 3, 0),
        (2, 3, 1),
        (-1, 3, 0),
        (-2, 3, -1),
        (0, 7, 0),
    ],
)
def test_div_round_half_even(numerator: int, denominator: int, expected: int) -> None:
    assert div_round_half_even(numerator, denominator) == expected


# --- properties -------------------------------------------------------------------------------

SKUS = ["SKU-1", "SKU-2"]
PRODUCTS = ["prod-1", "prod-2"]
CATEGORIES = ["cat-a", "cat-b", "cat-c"]
TIERS = ["", "gold", "silver"]
# A coarse grid of instants makes windows that start or end exactly at the quote time common.
INSTANTS = [T0 + timedelta(hours=h) for h in range(-3, 4)]

scopes = st.one_of(
    st.just(Scope.all()),
    st.sampled_from(SKUS).map(Scope.sku),
    st.sampled_from(PRODUCTS).map(Scope.product),
    st.sampled_from(CATEGORIES).map(Scope.category),
)
pricings = st.builds(
    SkuPricing,
    sku=st.sampled_from(SKUS),
    product_id=st.sampled_from(PRODUCTS),
    category_ids=st.frozensets(st.sampled_from(CATEGORIES)),
    base_price_minor=st.integers(0, 200_000),
    price_adjustment_minor=st.integers(-5_000, 5_000),
    currency=st.just("USD"),
)


@st.composite
def rules(draw: st.DrawFn) -> PriceRule:
    stage = draw(st.sampled_from([S, K, T]))
    fields: dict[str, Any] = {}
    if stage is S:
        start, end = sorted(draw(st.lists(st.sampled_from(INSTANTS), min_size=2, max_size=2, unique=True)))
        fields = {"start_time": start, "end_time": end}
    elif stage is K:
        fields = {"min_quantity": draw(st.integers(1, 60))}
    else:
        fields = {"customer_tier": draw(st.sampled_from(TIERS[1:]))}
    if draw(st.booleans()):
        fields["percent_off_bp"] = draw(st.integers(1, 10_000))
    else:
        fields["amount_off_minor"] = draw(st.integers(1, 50_000))
    return PriceRule(
        id=draw(st.text("abcdef", min_size=1, max_size=3)),
        name="r",
        stage=stage,
        scope=draw(scopes),
        priority=draw(st.integers(-2, 2)),
        active=draw(st.booleans()),
        **fields,
    )


rule_lists = st.lists(rules(), max_size=12, unique_by=lambda r: r.id)
quantities = st.integers(1, 100)
tiers = st.sampled_from(TIERS)
instants = st.one_of(st.sampled_from(INSTANTS), st.sampled_from(INSTANTS).map(lambda t: t - US))


@given(pricings, rule_lists, quantities, tiers, instants, st.randoms(use_true_random=False))
def test_rule_order_never_changes_the_quote(
    pricing: SkuPricing,
    rule_list: list[PriceRule],
    quantity: int,
    tier_: str,
    at: datetime,
    rnd: random.Random,
) -> None:
    shuffled = list(rule_list)
    rnd.shuffle(shuffled)
    first = quote_line(pricing, rule_list, quantity, tier_, at)
    second = quote_line(pricing, shuffled, quantity, tier_, at)
    assert first == second
    assert repr(first) == repr(second)


@given(pricings, rule_lists, quantities, tiers, instants)
def test_quote_invariants(
    pricing: SkuPricing, rule_list: list[PriceRule], quantity: int, tier_: str, at: datetime
) -> None:
    quote = quote_line(pricing, rule_list, quantity, tier_, at)
    assert quote.unit_price >= 0
    assert quote.line_total == quote.unit_price * quantity
    assert quote.steps[0].stage is B and quote.steps[0].rule_id is None
    assert quote.steps[0].unit_price_after == quote.base_unit_price
    order = list(Stage)
    stages = [order.index(s.stage) for s in quote.steps]
    assert stages == sorted(set(stages)), "at most one step per stage, in stage order"
    for prev, step in zip(quote.steps, quote.steps[1:], strict=False):
        assert step.unit_price_before == prev.unit_price_after
    for step in quote.steps:
        assert 0 <= step.unit_price_after <= step.unit_price_before
    assert quote.steps[-1].unit_price_after == quote.unit_price


@given(pricings, rule_lists, quantities, tiers, instants)
def test_each_stage_takes_the_lowest_price_on_offer(
    pricing: SkuPricing, rule_list: list[PriceRule], quantity: int, tier_: str, at: datetime
) -> None:
    quote = quote_line(pricing, rule_list, quantity, tier_, at)
    line = LineContext(pricing, quantity, tier_, at)
    taken = {s.stage: s for s in quote.steps}
    price = quote.base_unit_price
    for strategy in STAGES:
        offers = [strategy.unit_price(r, price) for r in rule_list if strategy.applies(r, line)]
        step = taken.get(strategy.stage)
        assert (step is None) == (not offers)
        if step is not None:
            assert step.unit_price_after == min(offers)
            price = step.unit_price_after


@given(pricings, rule_lists, quantities, tiers, instants)
def test_inactive_rules_change_nothing(
    pricing: SkuPricing, rule_list: list[PriceRule], quantity: int, tier_: str, at: datetime
) -> None:
    active = [r for r in rule_list if r.active]
    everything = quote_line(pricing, rule_list, quantity, tier_, at)
    assert everything == quote_line(pricing, active, quantity, tier_, at)


@given(
    st.integers(1, 100_000),
    st.sampled_from(INSTANTS),
    st.integers(1, 10**12),
    st.integers(-(10**12), 10**12),
)
def test_windows_are_half_open(base: int, start: datetime, length_us: int, offset_us: int) -> None:
    end = start + length_us * US
    at = start + offset_us * US
    rule = seasonal("s", off=1, start=start, end=end)
    applied = [s.stage for s in quote_line(item(base), [rule], 1, "", at).steps] == [B, S]
    assert applied == (start <= at < end)
    assert quote_line(item(base), [rule], 1, "", start).steps[-1].stage is S
    assert quote_line(item(base), [rule], 1, "", end).steps[-1].stage is B


@given(st.integers(0, 10**15), st.integers(1, 10_000))
def test_percent_off_is_exact_half_even(before: int, bp: int) -> None:
    quote = quote_line(item(before), [tier("t", "gold", bp=bp)], 1, "gold", T0)
    assert quote.unit_price == round(Fraction(before * (10_000 - bp), 10_000))


@given(st.integers(-(10**15), 10**15), st.integers(1, 10**6))
def test_div_round_half_even_matches_fraction_round(numerator: int, denominator: int) -> None:
    assert div_round_half_even(numerator, denominator) == round(Fraction(numerator, denominator))

"""inventory_svc.allocation: which locations fill a cart, per strategy, worked out by hand; then
properties that hold for any stock, cart and channel."""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from holdfast_common.errors import ErrorKind, HoldfastError
from inventory_svc import allocation
from inventory_svc.allocation import Allocation, CartLine, Strategy, allocate, take

# location -> sku -> units available there.
Stock = dict[str, dict[str, int]]
# sku -> quantity, or (quantity, pinned location).
Cart = dict[str, int | tuple[int, str]]
# The allocations as (sku, location, quantity), or the refusal's reason and what its
# violations say: ((subject, description), ...).
Outcome = tuple[tuple[str, str, int], ...] | tuple[str, tuple[tuple[str, str], ...]]


def levels(stock: Stock) -> dict[tuple[str, str], int]:
    return {(sku, loc): units for loc, skus in stock.items() for sku, units in skus.items()}


def cart_lines(cart: Cart) -> tuple[CartLine, ...]:
    """The cart as CreateHold hands it over: one line per SKU, sorted by SKU."""
    return tuple(
        CartLine(sku, q) if isinstance(q, int) else CartLine(sku, q[0], q[1])
        for sku, q in sorted(cart.items())
    )


def outcome(strategy: Strategy, locations: str, stock: Stock, cart: Cart) -> Outcome:
    try:
        allocations = allocate(cart_lines(cart), list(locations), levels(stock), strategy)
    except HoldfastError as refusal:
        assert (refusal.kind, refusal.reason) == (ErrorKind.FAILED_PRECONDITION, "INSUFFICIENT_STOCK")
        return refusal.reason, tuple((v.subject, v.description) for v in refusal.precondition_violations)
    return tuple((a.sku, a.location, a.quantity) for a in allocations)


def short(*skus: tuple[str, int, int]) -> Outcome:
    return "INSUFFICIENT_STOCK", tuple((s, f"requested {r}, available {a}") for s, r, a in skus)


@dataclass(frozen=True)
class Case:
    id: str
    # The channel's locations, one letter each, in priority order.
    locations: str
    stock: Stock
    cart: Cart
    outcome: Outcome


def check(strategy: Strategy, case: Case) -> None:
    stock_before = levels(case.stock)
    assert outcome(strategy, case.locations, case.stock, case.cart) == case.outcome
    assert levels(case.stock) == stock_before


# X: 2 at A, 5 at B, 9 at C.
ABC = {"A": {"X": 2}, "B": {"X": 5}, "C": {"X": 9}}
# For a cart pinning X to C: Y is at every location, most at B.
PINNED_X = {"A": {"X": 9, "Y": 1}, "B": {"Y": 5}, "C": {"X": 4, "Y": 3}}

PRIORITY = [
    Case("the first location gives what it has, the next the rest", "ABC", ABC, {"X": 6},
         (("X", "A", 2), ("X", "B", 4))),
    Case("a line the first location fills stays there", "ABC", ABC, {"X": 2}, (("X", "A", 2),)),
    Case("a line can take every unit of every location", "ABC", ABC, {"X": 16},
         (("X", "A", 2), ("X", "B", 5), ("X", "C", 9))),
    Case("one unit more than the channel holds is refused with the channel's total", "ABC", ABC,
         {"X": 17}, short(("X", 17, 16))),
    Case("the channel's order counts, not the codes' order", "CBA", ABC, {"X": 6}, (("X", "C", 6),)),
    Case("a location without the SKU is passed over", "ABC", {"A": {"Y": 9}, "B": {"X": 0}, "C": {"X": 3}},
         {"X": 3}, (("X", "C", 3),)),
    Case("each line spills on its own", "AB", {"A": {"X": 1, "Y": 4}, "B": {"X": 5, "Y": 5}},
         {"X": 3, "Y": 4}, (("X", "A", 1), ("X", "B", 2), ("Y", "A", 4))),
    Case("stock outside the channel is not offered", "AB", {**ABC, "Z": {"X": 100}}, {"X": 8},
         short(("X", 8, 7))),
    Case("a pinned line takes its pin, the others spill as usual", "ABC", PINNED_X,
         {"X": (4, "C"), "Y": 3}, (("X", "C", 4), ("Y", "A", 1), ("Y", "B", 2))),
]  # fmt: skip

MOST_AVAILABLE = [
    Case("the location with the most gives first", "ABC", ABC, {"X": 6}, (("X", "C", 6),)),
    Case("then the next most", "ABC", ABC, {"X": 12}, (("X", "B", 3), ("X", "C", 9))),
    Case("every location, most first", "ABC", ABC, {"X": 16},
         (("X", "A", 2), ("X", "B", 5), ("X", "C", 9))),
    Case("locations holding as many go in priority order", "ABC",
         {"A": {"X": 5}, "B": {"X": 5}, "C": {"X": 5}}, {"X": 7}, (("X", "A", 5), ("X", "B", 2))),
    Case("... the channel's priority order", "CBA", {"A": {"X": 5}, "B": {"X": 5}, "C": {"X": 5}},
         {"X": 7}, (("X", "B", 2), ("X", "C", 5))),
    Case("each line has its own most", "AB", {"A": {"X": 1, "Y": 8}, "B": {"X": 6, "Y": 2}},
         {"X": 2, "Y": 3}, (("X", "B", 2), ("Y", "A", 3))),
    Case("short over the channel is refused", "ABC", ABC, {"X": 20}, short(("X", 20, 16))),
    Case("a pinned line takes its pin, the others the most first", "ABC", PINNED_X,
         {"X": (4, "C"), "Y": 3}, (("X", "C", 4), ("Y", "B", 3))),
]  # fmt: skip

FEWEST_LOCATIONS = [
    Case("one location that fills the whole cart beats an earlier one that fills part", "AB",
         {"A": {"X": 5}, "B": {"X": 3, "Y": 3}}, {"X": 2, "Y": 2}, (("X", "B", 2), ("Y", "B", 2))),
    Case("among single locations that fill it, the earliest", "ABC",
         {"A": {"X": 1}, "B": {"X": 3}, "C": {"X": 9}}, {"X": 3}, (("X", "B", 3),)),
    Case("two needed: the first feasible pair in priority order, not the roomiest", "ABCD",
         {"A": {"X": 1}, "B": {"X": 3}, "C": {"X": 3}, "D": {"X": 5}}, {"X": 6},
         (("X", "A", 1), ("X", "D", 5))),
    Case("within the set, lines spill in priority order", "DCBA",
         {"A": {"X": 1}, "B": {"X": 3}, "C": {"X": 3}, "D": {"X": 5}}, {"X": 7},
         (("X", "C", 2), ("X", "D", 5))),
    Case("two lines, no location with both: a pair", "ABC",
         {"A": {"X": 4}, "B": {"Y": 4}, "C": {"X": 2, "Y": 2}}, {"X": 4, "Y": 4},
         (("X", "A", 4), ("Y", "B", 4))),
    Case("a location holding none of the cart changes nothing", "ZAB",
         {"Z": {"Y": 9}, "A": {"X": 2}, "B": {"X": 2}}, {"X": 4}, (("X", "A", 2), ("X", "B", 2))),
    Case("short over the channel is refused", "AB", {"A": {"X": 4}, "B": {"Y": 4}}, {"X": 5, "Y": 4},
         short(("X", 5, 4))),
    Case("the set is chosen for the unpinned lines only: the pin's location is not free", "ABC",
         PINNED_X, {"X": (4, "C"), "Y": 3}, (("X", "C", 4), ("Y", "B", 3))),
]  # fmt: skip

SINGLE_LOCATION = [
    Case("the first location that has the whole cart", "ABCD",
         {"A": {"X": 5}, "B": {"X": 1, "Y": 1}, "C": {"X": 2, "Y": 2}, "D": {"X": 9, "Y": 9}},
         {"X": 2, "Y": 2}, (("X", "C", 2), ("Y", "C", 2))),
    Case("the channel's order counts", "DCBA",
         {"A": {"X": 5}, "B": {"X": 1, "Y": 1}, "C": {"X": 2, "Y": 2}, "D": {"X": 9, "Y": 9}},
         {"X": 2, "Y": 2}, (("X", "D", 2), ("Y", "D", 2))),
    Case("refused when the locations have enough only together", "AB", {"A": {"X": 2}, "B": {"Y": 2}},
         {"X": 2, "Y": 2},
         ("INSUFFICIENT_STOCK", (("X", "requested 2, available 2 across locations"),
                                 ("Y", "requested 2, available 2 across locations")))),
    Case("refused naming what is short over the channel", "AB", {"A": {"X": 2}, "B": {"Y": 2}},
         {"X": 2, "Y": 3}, short(("Y", 3, 2))),
    Case("a pin makes its location the only candidate", "AB",
         {"A": {"X": 9, "Y": 9}, "B": {"X": 2, "Y": 2}}, {"X": (2, "B"), "Y": 2},
         (("X", "B", 2), ("Y", "B", 2))),
    Case("a pinned location short of an unpinned line is refused, with what the pin has", "AB",
         {"A": {"X": 9, "Y": 9}, "B": {"X": 2, "Y": 1}}, {"X": (2, "B"), "Y": 2}, short(("Y", 2, 1))),
    Case("a pin outside the channel can be the one location", "A", {"A": {"X": 9}, "P": {"X": 3, "Y": 3}},
         {"X": 3, "Y": (1, "P")}, (("X", "P", 3), ("Y", "P", 1))),
    Case("pins naming two locations are refused", "AB", {"A": {"X": 9, "Y": 9}, "B": {"X": 9, "Y": 9}},
         {"X": (1, "A"), "Y": (1, "B")},
         ("INSUFFICIENT_STOCK", (("X", "pinned to A"), ("Y", "pinned to B")))),
]  # fmt: skip

PINNED = [
    Case("a pinned line short at its pin is refused though other locations have plenty", "AB",
         {"A": {"X": 1}, "B": {"X": 9}}, {"X": (3, "A")}, short(("X", 3, 1))),
    Case("a pin outside the channel", "A", {"A": {"X": 9}, "P": {"X": 2}}, {"X": (2, "P")},
         (("X", "P", 2),)),
    Case("pinned and unpinned lines short together are named together", "AB",
         {"A": {"X": 1, "Y": 1}, "B": {"X": 9, "Y": 1}}, {"X": (3, "A"), "Y": 3},
         short(("X", 3, 1), ("Y", 3, 2))),
    Case("pins need no channel at all", "", {"P": {"X": 2}}, {"X": (2, "P")}, (("X", "P", 2),)),
]  # fmt: skip

NO_LOCATIONS = [
    Case(
        "a channel without active locations offers nothing",
        "",
        {"A": {"X": 9}},
        {"X": 1, "Y": 2},
        short(("X", 1, 0), ("Y", 2, 0)),
    ),
]


@pytest.mark.parametrize("case", PRIORITY, ids=[c.id for c in PRIORITY])
def test_priority(case: Case) -> None:
    check(Strategy.PRIORITY, case)


@pytest.mark.parametrize("case", MOST_AVAILABLE, ids=[c.id for c in MOST_AVAILABLE])
def test_most_available(case: Case) -> None:
    check(Strategy.MOST_AVAILABLE, case)


@pytest.mark.parametrize("case", FEWEST_LOCATIONS, ids=[c.id for c in FEWEST_LOCATIONS])
def test_fewest_locations(case: Case) -> None:
    check(Strategy.FEWEST_LOCATIONS, case)


@pytest.mark.parametrize("case", SINGLE_LOCATION, ids=[c.id for c in SINGLE_LOCATION])
def test_single_location(case: Case) -> None:
    check(Strategy.SINGLE_LOCATION, case)


@pytest.mark.parametrize("strategy", [s for s in Strategy if s is not Strategy.SINGLE_LOCATION])
@pytest.mark.parametrize("case", PINNED + NO_LOCATIONS, ids=[c.id for c in PINNED + NO_LOCATIONS])
def test_pins_and_empty_channels_whatever_the_strategy(case: Case, strategy: Strategy) -> None:
    check(strategy, case)


@pytest.mark.parametrize("strategy", list(Strategy))
def test_an_empty_cart_takes_nothing(strategy: Strategy) -> None:
    assert allocate((), ["A"], {("X", "A"): 1}, strategy) == ()


def test_fewest_locations_past_the_cap_settles_for_a_greedy_cover(monkeypatch: pytest.MonkeyPatch) -> None:
    # A has the most of the cart, so greedy takes it first and then needs both B and C; the
    # exact search finds B and C alone.
    stock = {"A": {"X": 2, "Y": 2}, "B": {"X": 3}, "C": {"Y": 3}}
    cart: Cart = {"X": 3, "Y": 3}
    assert outcome(Strategy.FEWEST_LOCATIONS, "ABC", stock, cart) == (("X", "B", 3), ("Y", "C", 3))
    monkeypatch.setattr(allocation, "MAX_COMBINATIONS", 1)
    assert outcome(Strategy.FEWEST_LOCATIONS, "ABC", stock, cart) == (
        ("X", "A", 2),
        ("X", "B", 1),
        ("Y", "A", 2),
        ("Y", "C", 1),
    )


def test_fewest_locations_over_thirty_locations_needing_half_of_them() -> None:
    # An exact search would examine the sets of up to 15 of 30 locations (over 155 million);
    # this finishes because the cap hands over to the greedy cover after 20,000.
    codes = [f"L{i:02}" for i in range(30)]
    stock = {(sku, loc): 1 for loc in codes for sku in ("X", "Y")} | {("Z", codes[-1]): 9}
    lines = (CartLine("X", 15), CartLine("Y", 15), CartLine("Z", 9))
    allocations = allocate(lines, codes, stock, Strategy.FEWEST_LOCATIONS)
    # Greedy: the last location covers the most (X, Y and all of Z), then the others in priority.
    chosen = [*codes[:14], codes[-1]]
    assert allocations == tuple(
        sorted(
            [Allocation(sku, loc, 1) for sku in ("X", "Y") for loc in chosen]
            + [Allocation("Z", codes[-1], 9)],
            key=lambda a: (a.sku, a.location),
        )
    )


def test_a_later_cart_of_a_batch_sees_what_the_earlier_ones_took() -> None:
    available = levels({"A": {"X": 2, "Y": 1}, "B": {"X": 5}})
    first = allocate((CartLine("X", 4), CartLine("Y", 1)), ["A", "B"], available, Strategy.PRIORITY)
    take(available, first)
    assert available == {("X", "A"): 0, ("Y", "A"): 0, ("X", "B"): 3}
    with pytest.raises(HoldfastError) as refused:
        allocate((CartLine("X", 4),), ["A", "B"], available, Strategy.PRIORITY)
    assert refused.value.metadata["available"] == "3"
    second = allocate((CartLine("X", 3),), ["A", "B"], available, Strategy.MOST_AVAILABLE)
    assert second == (Allocation("X", "B", 3),)
    take(available, second)
    assert available == {("X", "A"): 0, ("Y", "A"): 0, ("X", "B"): 0}


def refusal(strategy: Strategy, locations: str, stock: Stock, cart: Cart) -> HoldfastError:
    with pytest.raises(HoldfastError) as refused:
        allocate(cart_lines(cart), list(locations), levels(stock), strategy)
    return refused.value


@pytest.mark.parametrize("strategy", [s for s in Strategy if s is not Strategy.SINGLE_LOCATION])
def test_a_refusal_names_every_short_sku_as_a_single_pool_refusal_does(strategy: Strategy) -> None:
    error = refusal(strategy, "AB", {"A": {"X": 1, "Y": 9}, "B": {"X": 2, "Z": 1}}, {"X": 4, "Y": 1, "Z": 2})
    assert error.metadata == {"sku": "X", "requested": "4", "available": "3", "skus": "X,Z"}
    assert error.message == "not enough stock for: X (requested 4, available 3), Z (requested 2, available 1)"


def test_single_location_short_over_the_channel_says_so_and_names_the_strategy() -> None:
    error = refusal(Strategy.SINGLE_LOCATION, "AB", {"A": {"X": 1}, "B": {"X": 2}}, {"X": 4, "Y": 1})
    assert error.metadata == {
        "sku": "X",
        "requested": "4",
        "available": "3",
        "skus": "X,Y",
        "strategy": "SINGLE_LOCATION",
    }
    assert error.message == (
        "no single location can fill the cart; "
        "not enough stock for: X (requested 4, available 3), Y (requested 1, available 0)"
    )


def test_single_location_with_enough_only_across_locations_names_every_sku_of_the_cart() -> None:
    error = refusal(Strategy.SINGLE_LOCATION, "AB", {"A": {"X": 2, "Y": 1}, "B": {"Y": 2}}, {"X": 1, "Y": 2})
    assert error.metadata == {"skus": "X,Y", "strategy": "SINGLE_LOCATION"}
    assert (
        error.message
        == "no single location can fill the cart: the channel's locations have enough only together"
    )


def test_single_location_pinned_short_names_the_pin() -> None:
    error = refusal(Strategy.SINGLE_LOCATION, "AB", {"A": {"X": 9}, "B": {"X": 1}}, {"X": 2, "Y": (1, "B")})
    assert error.metadata == {
        "sku": "X",
        "requested": "2",
        "available": "1",
        "skus": "X,Y",
        "strategy": "SINGLE_LOCATION",
    }
    assert error.message.startswith("no single location can fill the cart: it is pinned to B; ")


def test_single_location_pins_on_two_locations() -> None:
    error = refusal(Strategy.SINGLE_LOCATION, "AB", {}, {"X": (1, "B"), "Y": 1, "Z": (1, "A")})
    assert error.metadata == {"skus": "X,Z", "strategy": "SINGLE_LOCATION"}
    assert (
        error.message
        == "no single location can fill the cart: its lines are pinned to different locations (A, B)"
    )


# Properties, over small channels where a brute force can say what the answer must be.

CHANNEL = "ABCD"
# P is a location outside every channel, reachable only by a pin.
EVERYWHERE = CHANNEL + "P"
SKUS = "XYZ"


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[tuple[CartLine, ...], list[str], dict[tuple[str, str], int]]:
    # An empty channel refuses every unpinned line; the tables cover it.
    locations = draw(st.lists(st.sampled_from(CHANNEL), unique=True, min_size=1, max_size=len(CHANNEL)))
    # None: no entry, which means 0.
    units = st.sampled_from([None, 0, 1, 2, 3, 4, 5, 6, 7])
    drawn = {(sku, loc): draw(units) for sku in SKUS for loc in EVERYWHERE}
    available = {key: n for key, n in drawn.items() if n is not None}
    skus = sorted(draw(st.lists(st.sampled_from(SKUS), unique=True, min_size=1)))
    pins = st.one_of(st.none(), st.none(), st.sampled_from(EVERYWHERE))
    lines = tuple(CartLine(sku, draw(st.integers(1, 8)), draw(pins)) for sku in skus)
    return lines, locations, available


def at(available: dict[tuple[str, str], int], sku: str, loc: str) -> int:
    return available.get((sku, loc), 0)


def fills(
    lines: tuple[CartLine, ...], chosen: tuple[str, ...], available: dict[tuple[str, str], int]
) -> bool:
    return all(sum(at(available, x.sku, loc) for loc in chosen) >= x.quantity for x in lines)


def can_allocate(
    lines: tuple[CartLine, ...],
    locations: list[str],
    available: dict[tuple[str, str], int],
    strategy: Strategy,
) -> bool:
    pins = {x.location for x in lines if x.location is not None}
    if strategy is Strategy.SINGLE_LOCATION:
        candidates = list(pins) if pins else locations
        return len(pins) <= 1 and any(fills(lines, (loc,), available) for loc in candidates)
    return all(fills((x,), (x.location,) if x.location else tuple(locations), available) for x in lines)


def taken(allocations: tuple[Allocation, ...]) -> dict[tuple[str, str], int]:
    return {(a.sku, a.location): a.quantity for a in allocations}


@given(scenarios(), st.sampled_from(Strategy))
def test_allocations_fill_every_line_from_what_is_available_where_allowed(
    scenario: tuple[tuple[CartLine, ...], list[str], dict[tuple[str, str], int]], strategy: Strategy
) -> None:
    lines, locations, available = scenario
    before = dict(available)
    try:
        allocations = allocate(lines, locations, available, strategy)
    except HoldfastError as refusal:
        assert refusal.reason == "INSUFFICIENT_STOCK"
        assert not can_allocate(lines, locations, available, strategy)
        return
    finally:
        assert available == before
    assert can_allocate(lines, locations, available, strategy)
    assert list(allocations) == sorted(allocations, key=lambda a: (a.sku, a.location))
    assert len(taken(allocations)) == len(allocations)
    totals: dict[str, int] = defaultdict(int)
    for a in allocations:
        totals[a.sku] += a.quantity
        assert 0 < a.quantity <= at(available, a.sku, a.location)
    assert totals == {x.sku: x.quantity for x in lines}
    pins = {x.sku: x.location for x in lines}
    if strategy is Strategy.SINGLE_LOCATION:
        (where,) = {a.location for a in allocations}
        pinned = {pin for pin in pins.values() if pin is not None}
        assert where in (pinned or set(locations))
    else:
        for a in allocations:
            pin = pins[a.sku]
            assert a.location == pin if pin is not None else a.location in locations
    take(available, allocations)
    assert all(units >= 0 for units in available.values())


def spilled(
    lines: tuple[CartLine, ...],
    allocations: tuple[Allocation, ...],
    available: dict[tuple[str, str], int],
    order_for: dict[str, list[str]],
) -> bool:
    """Whether each unpinned line used a location only once every location before it in its
    order was emptied."""
    took = taken(allocations)
    for x in lines:
        if x.location is None:
            order = order_for[x.sku]
            used = [i for i, loc in enumerate(order) if (x.sku, loc) in took]
            for loc in order[: max(used, default=0)]:
                if took.get((x.sku, loc), 0) != at(available, x.sku, loc):
                    return False
    return True


@given(scenarios())
def test_priority_never_passes_a_location_that_still_has_stock(
    scenario: tuple[tuple[CartLine, ...], list[str], dict[tuple[str, str], int]],
) -> None:
    lines, locations, available = scenario
    assume(can_allocate(lines, locations, available, Strategy.PRIORITY))
    allocations = allocate(lines, locations, available, Strategy.PRIORITY)
    assert spilled(lines, allocations, available, {x.sku: locations for x in lines})


@given(scenarios())
def test_most_available_never_passes_a_location_with_more_that_still_has_stock(
    scenario: tuple[tuple[CartLine, ...], list[str], dict[tuple[str, str], int]],
) -> None:
    lines, locations, available = scenario
    assume(can_allocate(lines, locations, available, Strategy.MOST_AVAILABLE))
    allocations = allocate(lines, locations, available, Strategy.MOST_AVAILABLE)
    order_for = {
        x.sku: sorted(locations, key=lambda loc: (-at(available, x.sku, loc), locations.index(loc)))
        for x in lines
    }
    assert spilled(lines, allocations, available, order_for)


@given(scenarios())
def test_fewest_locations_uses_the_first_smallest_set_that_fills_the_cart(
    scenario: tuple[tuple[CartLine, ...], list[str], dict[tuple[str, str], int]],
) -> None:
    lines, locations, available = scenario
    assume(can_allocate(lines, locations, available, Strategy.FEWEST_LOCATIONS))
    allocations = allocate(lines, locations, available, Strategy.FEWEST_LOCATIONS)
    free = tuple(x for x in lines if x.location is None)
    first = next(
        chosen
        for size in range(len(locations) + 1)
        for chosen in itertools.combinations(locations, size)
        if fills(free, chosen, available)
    )
    free_skus = {x.sku for x in free}
    assert {a.location for a in allocations if a.sku in free_skus} == set(first)
    assert spilled(free, allocations, available, {x.sku: list(first) for x in free})

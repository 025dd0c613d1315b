"""The reserve decision of a CreateHold batch (inventory_svc.stock._reserve), without a
database: carts in arrival order against the stock available per SKU, each reserved whole or
refused whole, a later cart seeing only what the earlier ones left. Here every SKU is kept at
location `default` alone and sold by channel `default`, as before locations existed (how a
cart is spread over several locations: tests/unit/test_allocation.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from holdfast_common.db.idempotency import RequestRecord
from holdfast_common.errors import HoldfastError
from inventory_svc.models import (
    AllocationStrategy,
    ChannelRoute,
    Hold,
    HoldLine,
    HoldState,
    LineAllocation,
    LockedPrices,
    NewHold,
)
from inventory_svc.stock import BatchPlaces, HoldRequest, _reserve

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
TTL = timedelta(minutes=15)

Cart = dict[str, int]
# "held", ("INSUFFICIENT_STOCK", ((sku, "requested r, available a"), ...)) or
# ("SKU_NOT_FOUND", "sku,sku").
Outcome = str | tuple[str, object]


def cart_request(number: int, cart: Cart, prices: LockedPrices | None = None) -> HoldRequest:
    """A validated cart as the batch sees it: lines one per SKU, sorted (the lock order)."""
    request_id = f"req-{number}"
    lines = tuple(HoldLine(sku, quantity) for sku, quantity in sorted(cart.items()))
    new = NewHold(request_id, f"cart-{number}", lines, TTL, prices.customer_tier if prices else None)
    return HoldRequest(new, RequestRecord(request_id, "CreateHold", b"fingerprint"), prices)


DEFAULT = ChannelRoute("default", AllocationStrategy.PRIORITY, ("default",))


def reserve(request: HoldRequest, available: dict[str, int]) -> Hold:
    """_reserve with every SKU at `default`; `available` (per SKU) loses what the cart took."""
    at_default = {(sku, "default"): units for sku, units in available.items()}
    hold = _reserve(request, BatchPlaces({"default": DEFAULT}, {}, set(available)), at_default, {}, NOW)
    available.update({sku: units for (sku, _), units in at_default.items()})
    return hold


def reserve_in_order(carts: list[Cart], available: dict[str, int]) -> list[Hold | HoldfastError]:
    """Each cart's outcome, in arrival order, as create_holds decides them in one batch."""
    outcomes: list[Hold | HoldfastError] = []
    for number, cart in enumerate(carts):
        try:
            outcomes.append(reserve(cart_request(number, cart), available))
        except HoldfastError as refusal:
            outcomes.append(refusal)
    return outcomes


def held_at_default(sku: str, quantity: int, unit_price_minor: int | None = None) -> HoldLine:
    return HoldLine(sku, quantity, unit_price_minor, None, (LineAllocation("default", quantity),))


def described(outcome: Hold | HoldfastError) -> Outcome:
    """What the caller is told: held, or the refusal's reason and the details it names."""
    if isinstance(outcome, Hold):
        return "held"
    if outcome.reason == "INSUFFICIENT_STOCK":
        return outcome.reason, tuple((v.subject, v.description) for v in outcome.precondition_violations)
    return outcome.reason, outcome.metadata["skus"]


def short(*skus: tuple[str, int, int]) -> tuple[str, object]:
    return "INSUFFICIENT_STOCK", tuple((s, f"requested {r}, available {a}") for s, r, a in skus)


@dataclass(frozen=True)
class Case:
    id: str
    available: dict[str, int]
    carts: list[Cart]
    outcomes: list[Outcome]
    # What is still available once the batch has been decided.
    left: dict[str, int]


CASES = [
    Case("a cart that fits is held and takes its units", {"A": 5, "B": 2}, [{"A": 3, "B": 1}], ["held"],
         {"A": 2, "B": 1}),
    Case("the last unit of a SKU can be held", {"A": 2}, [{"A": 2}], ["held"], {"A": 0}),
    Case("a cart with one short line takes nothing of its other lines", {"A": 5, "B": 1},
         [{"A": 3, "B": 2}], [short(("B", 2, 1))], {"A": 5, "B": 1}),
    Case("every short SKU is named with what was asked and what is available", {"A": 1, "B": 0, "C": 9},
         [{"A": 4, "B": 1, "C": 1}], [short(("A", 4, 1), ("B", 1, 0))], {"A": 1, "B": 0, "C": 9}),
    Case("the first cart to arrive gets the scarce units", {"A": 3}, [{"A": 2}, {"A": 2}],
         ["held", short(("A", 2, 1))], {"A": 1}),
    Case("in the other arrival order the other cart gets them", {"A": 3}, [{"A": 1}, {"A": 3}],
         ["held", short(("A", 3, 2))], {"A": 2}),
    Case("a later cart sees what the earlier carts took, not what a refused one asked", {"A": 5, "B": 4},
         [{"A": 3}, {"A": 3, "B": 1}, {"A": 2, "B": 4}, {"B": 1}],
         ["held", short(("A", 3, 2)), "held", short(("B", 1, 0))], {"A": 0, "B": 0}),
    Case("a cart naming an unknown SKU is refused whole and takes nothing", {"A": 5},
         [{"A": 1, "NOPE": 1, "ZIP": 2}, {"A": 5}], [("SKU_NOT_FOUND", "NOPE,ZIP"), "held"], {"A": 0}),
    Case("an unknown SKU is named before any short one", {"A": 0}, [{"A": 1, "NOPE": 1}],
         [("SKU_NOT_FOUND", "NOPE")], {"A": 0}),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_carts_are_reserved_whole_or_refused_whole_in_arrival_order(case: Case) -> None:
    available = dict(case.available)
    outcomes = reserve_in_order(case.carts, available)
    assert [described(o) for o in outcomes] == case.outcomes
    assert available == case.left


def test_a_held_cart_is_an_active_hold_of_its_lines_until_its_ttl() -> None:
    (hold,) = reserve_in_order([{"B": 1, "A": 2}], {"A": 2, "B": 1})
    assert isinstance(hold, Hold)
    assert (hold.owner_id, hold.state, hold.end_time) == ("cart-0", HoldState.ACTIVE, None)
    assert hold.lines == (held_at_default("A", 2), held_at_default("B", 1))
    assert (hold.channel, hold.strategy) == ("default", "PRIORITY")
    assert (hold.create_time, hold.expire_time) == (NOW, NOW + TTL)
    assert hold.currency is None and hold.total_minor is None


def test_a_priced_cart_keeps_the_unit_prices_it_was_quoted() -> None:
    prices = LockedPrices(customer_tier="gold", currency="USD", unit_prices={"A": 250, "B": 1000})
    hold = reserve(cart_request(0, {"A": 2, "B": 1}, prices), {"A": 2, "B": 1})
    assert hold.lines == (held_at_default("A", 2, 250), held_at_default("B", 1, 1000))
    assert (hold.currency, hold.customer_tier, hold.total_minor) == ("USD", "gold", 1500)


def test_a_refusal_names_the_first_short_sku_in_its_metadata() -> None:
    (refusal,) = reserve_in_order([{"A": 4, "B": 3}], {"A": 1, "B": 2})
    assert isinstance(refusal, HoldfastError)
    assert refusal.metadata == {"sku": "A", "requested": "4", "available": "1", "skus": "A,B"}
    assert "A (requested 4, available 1), B (requested 3, available 2)" in refusal.message

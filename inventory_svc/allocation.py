"""Which locations fill a cart: the pure decision of a multi-location CreateHold.

A sales channel sells from its active locations in priority order, with one of four
strategies. `allocate` splits every line of one cart over those locations, all-or-nothing,
from the units available now; it reads nothing and changes nothing. A batch of carts calls it
in arrival order and subtracts each result with `take`, so a later cart sees only what the
earlier ones left.

A pinned line (`CartLine.location` set) is always allocated whole at its pin, under every
strategy; the caller has already checked that the pin exists and is active, and it need not be
one of the channel's locations.

Refusals are FAILED_PRECONDITION `INSUFFICIENT_STOCK` (`insufficient_stock` below),
naming every short SKU with what was requested and what the channel could offer it: the sum of
available over the channel's locations for an unpinned line, what its pin has for a pinned one.
PRIORITY, MOST_AVAILABLE and FEWEST_LOCATIONS refuse a cart exactly when some line is short in
that sense, with the same error a single-pool cart gets. SINGLE_LOCATION also refuses when the
totals suffice but no one location has the whole cart; its refusals all say so and carry
metadata "strategy": "SINGLE_LOCATION" (see `_single_location`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass

from holdfast_common.errors import ErrorKind, HoldfastError, PreconditionViolation
from inventory_svc.models import AllocationStrategy, PolicyKind

# Past this many candidate sets, FEWEST_LOCATIONS stops searching exactly (see `_fewest_locations`).
MAX_COMBINATIONS = 20_000

Available = Mapping[tuple[str, str], int]


# One enum of the strategies: the values channels.strategy stores.
Strategy = AllocationStrategy


@dataclass(frozen=True)
class CartLine:
    sku: str
    quantity: int
    # The location code this line must be allocated at, or None to let the strategy choose.
    location: str | None = None


@dataclass(frozen=True)
class Allocation:
    sku: str
    location: str
    # Units from available stock.
    quantity: int
    # Units sold beyond stock, within the location's cap.
    backordered: int = 0
    preordered: int = 0


@dataclass
class Room:
    """How much more one (SKU, location) may sell beyond stock now: its policy's kind
    (BACKORDER or PREORDER) and the units left under the cap."""

    kind: PolicyKind
    units: int


def insufficient_stock(
    short: list[tuple[str, int, int]],
    *,
    strategy: str | None = None,
    preface: str = "",
    metadata: dict[str, str] | None = None,
) -> HoldfastError:
    """FAILED_PRECONDITION naming every short SKU with what was asked and what is available.

    An allocation strategy that refuses for reasons of its own (inventory_svc.allocation) puts
    its name in metadata "strategy" and its reason in `preface`, before the usual message; a
    transfer names its source location in `metadata`. The other keys are the same either way.
    """
    sku, requested, available = short[0]
    extra = {"strategy": strategy} if strategy is not None else {}
    return HoldfastError(
        ErrorKind.FAILED_PRECONDITION,
        "INSUFFICIENT_STOCK",
        preface
        + "not enough stock for: "
        + ", ".join(f"{s} (requested {r}, available {a})" for s, r, a in short),
        metadata={
            "sku": sku,
            "requested": str(requested),
            "available": str(available),
            "skus": ",".join(s for s, _, _ in short),
            **extra,
            **(metadata or {}),
        },
        precondition_violations=[
            PreconditionViolation("STOCK", s, f"requested {r}, available {a}") for s, r, a in short
        ],
    )


def allocate(
    lines: Sequence[CartLine],
    locations: Sequence[str],
    available: Available,
    strategy: Strategy,
) -> tuple[Allocation, ...]:
    """Allocations sorted by (sku, location), or raises HoldfastError.

    `lines`: one per SKU, sorted by SKU, positive quantities. `locations`: the channel's active
    location codes, distinct, in priority order (may be empty). `available`: units available
    now per (sku, location); a missing key means 0. `available` is not changed.
    """
    if strategy is Strategy.SINGLE_LOCATION:
        allocations = _single_location(lines, locations, available)
    else:
        short = [
            (x.sku, x.quantity, offer)
            for x in lines
            if (offer := _offer(x, locations, available)) < x.quantity
        ]
        if short:
            raise insufficient_stock(short)
        pinned = [Allocation(x.sku, x.location, x.quantity) for x in lines if x.location is not None]
        free = [x for x in lines if x.location is None]
        allocations = pinned + _SPLITTERS[strategy](free, locations, available)
    return tuple(sorted(allocations, key=lambda a: (a.sku, a.location)))


def take(
    available: MutableMapping[tuple[str, str], int],
    allocations: Iterable[Allocation],
    room: Mapping[tuple[str, str], Room] | None = None,
) -> None:
    """Subtracts allocations from `available` (and what they sell beyond stock from `room`),
    so the next cart of a batch sees what is left."""
    for a in allocations:
        available[a.sku, a.location] = available.get((a.sku, a.location), 0) - a.quantity
        if a.backordered or a.preordered:
            assert room is not None
            room[a.sku, a.location].units -= a.backordered + a.preordered


def allocate_beyond(
    lines: Sequence[CartLine],
    locations: Sequence[str],
    available: Available,
    room: Mapping[tuple[str, str], Room],
    strategy: Strategy,
) -> tuple[Allocation, ...]:
    """Like `allocate`, for a cart that available stock alone cannot fill: every unit stock can
    give first, the rest sold beyond stock where `room` allows (a location whose policy lets
    it, within its cap). Raises INSUFFICIENT_STOCK as `allocate` does when even that falls
    short.

    Lines that stock can fill are allocated by the strategy as usual. A short line takes all
    that its pin, or the channel's locations in priority order, have available, then the rest
    from their room in the same order. SINGLE_LOCATION takes the whole cart from the first
    location (the pin, if any) where every line fits in available plus room.
    """
    if strategy is Strategy.SINGLE_LOCATION:
        return _single_location_beyond(lines, locations, available, room)
    short = [x for x in lines if _offer(x, locations, available) < x.quantity]
    fillable = [x for x in lines if x not in short]
    allocations = list(allocate(fillable, locations, available, strategy)) if fillable else []
    failed = []
    for x in short:
        order = [x.location] if x.location is not None else list(locations)
        taken = _beyond(x.sku, x.quantity, order, available, room)
        if taken is None:
            failed.append((x.sku, x.quantity, _offer(x, locations, available)))
        else:
            allocations.extend(taken)
    if failed:
        raise insufficient_stock(failed)
    return tuple(sorted(allocations, key=lambda a: (a.sku, a.location)))


def _beyond(
    sku: str, quantity: int, order: Sequence[str], available: Available, room: Mapping[tuple[str, str], Room]
) -> list[Allocation] | None:
    """The line from `order`'s available stock, then from its room, or None if both fall short."""
    from_stock: dict[str, int] = {}
    needed = quantity
    for loc in order:
        units = min(needed, max(available.get((sku, loc), 0), 0))
        if units:
            from_stock[loc] = units
            needed -= units
    extra: dict[str, tuple[PolicyKind, int]] = {}
    for loc in order:
        if needed == 0:
            break
        r = room.get((sku, loc))
        units = min(needed, r.units) if r is not None else 0
        if units > 0:
            assert r is not None
            extra[loc] = (r.kind, units)
            needed -= units
    if needed:
        return None
    return [
        _split(sku, loc, from_stock.get(loc, 0), extra.get(loc))
        for loc in order
        if loc in from_stock or loc in extra
    ]


def _split(sku: str, loc: str, stock: int, extra: tuple[PolicyKind, int] | None) -> Allocation:
    if extra is None:
        return Allocation(sku, loc, stock)
    kind, units = extra
    if kind is PolicyKind.BACKORDER:
        return Allocation(sku, loc, stock, backordered=units)
    return Allocation(sku, loc, stock, preordered=units)


def _single_location_beyond(
    lines: Sequence[CartLine],
    locations: Sequence[str],
    available: Available,
    room: Mapping[tuple[str, str], Room],
) -> tuple[Allocation, ...]:
    pins = sorted({x.location for x in lines if x.location is not None})
    if len(pins) > 1:
        # Refused whatever the room: let `allocate` say why.
        return allocate(lines, locations, available, Strategy.SINGLE_LOCATION)
    for loc in pins or locations:
        taken = [_beyond(x.sku, x.quantity, [loc], available, room) for x in lines]
        if all(t is not None for t in taken):
            return tuple(sorted((a for t in taken for a in t or ()), key=lambda a: (a.sku, a.location)))
    # Nowhere: the refusal a cart without room gets.
    return allocate(lines, locations, available, Strategy.SINGLE_LOCATION)


def _offer(line: CartLine, locations: Sequence[str], available: Available) -> int:
    """The most the channel could give this line: its pin's units, or the sum over the channel."""
    if line.location is not None:
        return available.get((line.sku, line.location), 0)
    return sum(available.get((line.sku, loc), 0) for loc in locations)


def _spill(line: CartLine, order: Iterable[str], available: Available) -> list[Allocation]:
    """The line taken from `order`'s locations in turn, each giving what it has until filled.

    The caller has checked that `order` holds enough in total.
    """
    allocations = []
    needed = line.quantity
    for loc in order:
        units = min(needed, available.get((line.sku, loc), 0))
        if units > 0:
            allocations.append(Allocation(line.sku, loc, units))
            needed -= units
            if needed == 0:
                break
    assert needed == 0, f"{line.sku}: {needed} units left after spilling"
    return allocations


def _priority(lines: Sequence[CartLine], locations: Sequence[str], available: Available) -> list[Allocation]:
    return [a for x in lines for a in _spill(x, locations, available)]


def _most_available(
    lines: Sequence[CartLine], locations: Sequence[str], available: Available
) -> list[Allocation]:
    # sorted() is stable, so locations holding as many units stay in priority order.
    return [
        a
        for x in lines
        for a in _spill(x, sorted(locations, key=lambda loc: -available.get((x.sku, loc), 0)), available)
    ]


def _fewest_locations(
    lines: Sequence[CartLine], locations: Sequence[str], available: Available
) -> list[Allocation]:
    """The smallest set of locations that fills every line, each line spilling over the set in
    priority order; among sets as small, the first in itertools.combinations order.

    Locations holding none of the cart are left out of the search: a smallest set never needs
    one, and dropping them keeps the others' relative order, so the same set wins.
    """
    useful = [loc for loc in locations if any(available.get((x.sku, loc), 0) > 0 for x in lines)]

    def fills(chosen: Sequence[str]) -> bool:
        return all(sum(available.get((x.sku, loc), 0) for loc in chosen) >= x.quantity for x in lines)

    examined = 0
    for size in range(len(useful) + 1):
        for chosen in itertools.combinations(useful, size):
            if fills(chosen):
                return _priority(lines, chosen, available)
            examined += 1
            if examined >= MAX_COMBINATIONS:
                # Exact search is exponential in the number of locations (30 locations and a
                # set of 15 is 155 million candidates). Past the cap, settle for a greedy cover:
                # not always the smallest set, but a small one found in polynomial time.
                return _priority(lines, _greedy_cover(lines, useful, available), available)
    raise AssertionError("the channel's locations together fill the cart, so some set does")


def _greedy_cover(lines: Sequence[CartLine], locations: Sequence[str], available: Available) -> list[str]:
    """Locations added one at a time, each the one covering the most still-missing units (ties
    by priority), until every line is covered; returned in priority order."""
    missing = {x.sku: x.quantity for x in lines}
    chosen: set[str] = set()

    def covers(loc: str) -> int:
        return sum(min(units, available.get((sku, loc), 0)) for sku, units in missing.items())

    while any(missing.values()):
        # max() keeps the first of equals, i.e. the earliest in priority.
        best = max((loc for loc in locations if loc not in chosen), key=covers)
        chosen.add(best)
        for sku, units in missing.items():
            missing[sku] = units - min(units, available.get((sku, best), 0))
    return [loc for loc in locations if loc in chosen]


Splitter = Callable[[Sequence[CartLine], Sequence[str], Available], list[Allocation]]

_SPLITTERS: dict[Strategy, Splitter] = {
    Strategy.PRIORITY: _priority,
    Strategy.MOST_AVAILABLE: _most_available,
    Strategy.FEWEST_LOCATIONS: _fewest_locations,
}


def _single_location(
    lines: Sequence[CartLine], locations: Sequence[str], available: Available
) -> list[Allocation]:
    """The whole cart, pinned lines included, from one location.

    Without pins: the first location in priority order that has every line. With pins, the
    pinned location is the only candidate, and all pins must name the same one.

    Refusals, all saying that no single location can fill the cart, with metadata "strategy":
    - pins naming different locations: "skus" the pinned SKUs, one LOCATION violation each;
    - pinned to one location that lacks some line: the short lines, with what the pin has
      (the only units this cart could get), as `insufficient_stock` names them;
    - some line short over the whole channel: as the other strategies refuse, plus "strategy";
    - enough over the channel but not at any one location: no short SKU to name, so no
      "sku"/"requested"/"available"; "skus" is every SKU of the cart (it is the cart together
      that no location has), one STOCK violation each with what the channel holds of it.
    """
    pins = sorted({x.location for x in lines if x.location is not None})
    if len(pins) > 1:
        raise _no_single_location(
            f"its lines are pinned to different locations ({', '.join(pins)})",
            [
                PreconditionViolation("LOCATION", x.sku, f"pinned to {x.location}")
                for x in lines
                if x.location
            ],
        )
    if pins:
        (pin,) = pins
        short = [
            (x.sku, x.quantity, units)
            for x in lines
            if (units := available.get((x.sku, pin), 0)) < x.quantity
        ]
        if short:
            raise insufficient_stock(
                short,
                strategy=Strategy.SINGLE_LOCATION.value,
                preface=f"no single location can fill the cart: it is pinned to {pin}; ",
            )
        return [Allocation(x.sku, pin, x.quantity) for x in lines]
    offers = [(x.sku, x.quantity, _offer(x, locations, available)) for x in lines]
    short = [(sku, requested, offer) for sku, requested, offer in offers if offer < requested]
    if short:
        raise insufficient_stock(
            short, strategy=Strategy.SINGLE_LOCATION.value, preface="no single location can fill the cart; "
        )
    for loc in locations:
        if all(available.get((x.sku, loc), 0) >= x.quantity for x in lines):
            return [Allocation(x.sku, loc, x.quantity) for x in lines]
    raise _no_single_location(
        "the channel's locations have enough only together",
        [
            PreconditionViolation("STOCK", sku, f"requested {requested}, available {offer} across locations")
            for sku, requested, offer in offers
        ],
    )


def _no_single_location(why: str, violations: list[PreconditionViolation]) -> HoldfastError:
    """A SINGLE_LOCATION refusal with no short SKU to name: `why` and the SKUs concerned."""
    return HoldfastError(
        ErrorKind.FAILED_PRECONDITION,
        "INSUFFICIENT_STOCK",
        f"no single location can fill the cart: {why}",
        metadata={
            "strategy": Strategy.SINGLE_LOCATION.value,
            "skus": ",".join(v.subject for v in violations),
        },
        precondition_violations=violations,
    )

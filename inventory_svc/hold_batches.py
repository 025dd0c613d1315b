"""CreateHold for a batch of carts in one transaction: one lock per (SKU, location), one
commit, and an outcome of its own for each cart (its hold, its first response replayed, or its
refusal). Each cart is allocated over its channel's locations in arrival order, against what
the earlier carts of the batch took."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import psycopg
import uuid6

from holdfast_common.db.idempotency import RequestRecord, encode, request_in_flight, send_record_lookup
from holdfast_common.db.pool import AsyncConn, AsyncPool, in_transaction, read
from holdfast_common.errors import HoldfastError, not_found, unknown_skus
from inventory_svc.allocation import CartLine, Strategy, allocate, take
from inventory_svc.models import (
    ChannelRoute,
    Hold,
    HoldLine,
    HoldState,
    LineAllocation,
    LocationRef,
    LockedPrices,
    NewHold,
)
from inventory_svc.places import location_refs_of, routes_of
from inventory_svc.queries import Q
from inventory_svc.stock import lock_levels, usable_location

Outcome = Hold | HoldfastError


@dataclass(frozen=True)
class HoldRequest:
    new: NewHold
    record: RequestRecord
    # The prices quoted for the cart, when the hold locks them.
    prices: LockedPrices | None = None


async def create_holds(pool: AsyncPool, requests: Sequence[HoldRequest]) -> list[Outcome]:
    """Reserves each cart all-or-nothing, in order, against the stock the earlier ones left.

    Two round trips while rows are locked: the lock (with the idempotency lookup, the
    channels and pinned locations the carts name, and BEGIN), then every insert with COMMIT.
    """
    made: dict[int, Hold] = {}

    async def work(
        conn: AsyncConn,
    ) -> tuple[list[Outcome | None], psycopg.AsyncCursor[Any] | None]:
        made.clear()
        records = await send_record_lookup(conn, [r.record.request_id for r in requests])
        channels = await conn.execute(Q.resolve_channels, {"refs": sorted({r.new.channel for r in requests})})
        pin_refs = sorted({x.location for r in requests for x in r.new.lines if x.location is not None})
        pinned = await conn.execute(Q.resolve_locations, {"refs": pin_refs}) if pin_refs else None
        levels, now = await lock_levels(conn, sorted({x.sku for r in requests for x in r.new.lines}))
        stored = {row["request_id"]: row for row in await records.fetchall()}
        places = BatchPlaces(
            routes_of(await channels.fetchall()),
            location_refs_of(await pinned.fetchall() if pinned else []),
            {sku for sku, _ in levels},
        )
        available = {key: level.available for key, level in levels.items()}
        outcomes: list[Outcome | None] = []
        for i, request in enumerate(requests):
            try:
                replay = request.record.answer(stored.get(request.record.request_id), Hold)
                if replay is None:
                    made[i] = _reserve(request, places, available, now)
                outcomes.append(replay)
            except HoldfastError as refusal:
                outcomes.append(refusal)
        if not made:
            return outcomes, None
        # Not fetched here: its result arrives with COMMIT, so no round trip is spent on it
        # while the rows are locked.
        inserted = await conn.execute(Q.insert_holds, _insert_params(requests, made, now))
        return outcomes, inserted

    outcomes, inserted = await in_transaction(pool, work, pipelined=True)
    if inserted is not None:
        stored_first = {row["request_id"] for row in await inserted.fetchall()}
        for i, hold in made.items():
            record = requests[i].record
            # Another transaction stored this request_id first, so its hold was not made.
            outcomes[i] = hold if record.request_id in stored_first else await _replay(pool, record)
    assert all(o is not None for o in outcomes)
    return outcomes  # type: ignore[return-value]


@dataclass(frozen=True)
class BatchPlaces:
    """What a batch's carts name, as the transaction found it."""

    # Channel reference (code or id) -> where it sells from.
    routes: dict[str, ChannelRoute]
    # Pinned location reference -> the location.
    pins: dict[str, LocationRef]
    # The SKUs that exist (each has at least its `default` row).
    skus: set[str]


def _cart(new: NewHold, places: BatchPlaces) -> tuple[ChannelRoute, list[CartLine]]:
    """The cart's channel and lines with their pins as location codes; NOT_FOUND for what
    does not exist, INVALID_ARGUMENT for a pin to an inactive location."""
    missing = [x.sku for x in new.lines if x.sku not in places.skus]
    if missing:
        raise unknown_skus(missing)
    route = places.routes.get(new.channel)
    if route is None:
        raise not_found("channel", "channel", new.channel)
    fields = dict(new.pin_fields)
    lines = []
    for line in new.lines:
        code = None
        if line.location is not None:
            found = places.pins.get(line.location)
            code = usable_location(found, line.location, fields[line.location], must_be_active=True)
        lines.append(CartLine(line.sku, line.quantity, code))
    return route, lines


def _reserve(
    request: HoldRequest, places: BatchPlaces, available: dict[tuple[str, str], int], now: datetime | None
) -> Hold:
    """The cart's hold if every line can be allocated from what is still available (then
    taken from it), by its channel's strategy or the one the request names."""
    new = request.new
    route, cart = _cart(new, places)
    assert now is not None
    strategy = Strategy(new.strategy or route.strategy)
    allocations = allocate(cart, route.locations, available, strategy)
    take(available, allocations)
    prices = request.prices
    lines = tuple(
        HoldLine(
            x.sku,
            x.quantity,
            prices.unit_prices[x.sku] if prices is not None else None,
            x.location,
            tuple(LineAllocation(a.location, a.quantity) for a in allocations if a.sku == x.sku),
        )
        for x in cart
    )
    return Hold(
        id=str(uuid6.uuid7()),
        owner_id=new.owner_id,
        state=HoldState.ACTIVE,
        lines=lines,
        create_time=now,
        expire_time=now + new.ttl,
        end_time=None,
        currency=prices.currency if prices else None,
        customer_tier=prices.customer_tier if prices else None,
        channel=route.code,
        strategy=strategy,
    )


def _insert_params(
    requests: Sequence[HoldRequest], made: dict[int, Hold], now: datetime | None
) -> dict[str, Any]:
    holds = [
        {
            "request_id": requests[i].record.request_id,
            "hold_id": hold.id,
            "owner_id": hold.owner_id,
            "expire_time": hold.expire_time.isoformat(),
            "currency": hold.currency,
            "customer_tier": hold.customer_tier,
            "channel": hold.channel,
            "strategy": hold.strategy,
            "fingerprint": requests[i].record.fingerprint.hex(),
            "response": encode(hold).decode(),
        }
        for i, hold in made.items()
    ]
    lines = [
        {
            "hold_id": hold.id,
            "sku": x.sku,
            "quantity": x.quantity,
            "unit_price_minor": x.unit_price_minor,
            "location": x.location,
        }
        for hold in made.values()
        for x in hold.lines
    ]
    allocations = [
        {"hold_id": hold.id, "sku": x.sku, "location": a.location, "quantity": a.quantity}
        for hold in made.values()
        for x in hold.lines
        for a in x.allocations
    ]
    return {
        "method": requests[next(iter(made))].record.method,
        "create_time": now,
        "holds": json.dumps(holds),
        "lines": json.dumps(lines),
        "allocations": json.dumps(allocations),
        "skus": sorted({x["sku"] for x in lines}),
    }


async def replay_hold(pool: AsyncPool, record: RequestRecord) -> Hold | None:
    """The hold an earlier call with this request_id created, if any."""
    return await read(pool, partial(record.replay, result_type=Hold))


async def _replay(pool: AsyncPool, record: RequestRecord) -> Outcome:
    try:
        hold = await replay_hold(pool, record)
    except HoldfastError as refusal:
        return refusal
    return hold if hold is not None else request_in_flight()

"""CreateHold for a batch of carts in one transaction: one lock per SKU, one commit, and an
outcome of its own for each cart (its hold, its first response replayed, or its refusal)."""

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
from holdfast_common.errors import HoldfastError, unknown_skus
from inventory_svc.models import Hold, HoldLine, HoldState, LockedPrices, NewHold
from inventory_svc.queries import Q
from inventory_svc.stock import insufficient_stock, lock_levels

Outcome = Hold | HoldfastError


@dataclass(frozen=True)
class HoldRequest:
    new: NewHold
    record: RequestRecord
    # The prices quoted for the cart, when the hold locks them.
    prices: LockedPrices | None = None


async def create_holds(pool: AsyncPool, requests: Sequence[HoldRequest]) -> list[Outcome]:
    """Reserves each cart all-or-nothing, in order, against the stock the earlier ones left.

    Two round trips while rows are locked: the lock (with the idempotency lookup and
    BEGIN), then every insert with COMMIT.
    """
    made: dict[int, Hold] = {}

    async def work(
        conn: AsyncConn,
    ) -> tuple[list[Outcome | None], psycopg.AsyncCursor[Any] | None]:
        made.clear()
        records = await send_record_lookup(conn, [r.record.request_id for r in requests])
        levels, now = await lock_levels(conn, sorted({x.sku for r in requests for x in r.new.lines}))
        stored = {row["request_id"]: row for row in await records.fetchall()}
        available = {sku: level.available for sku, level in levels.items()}
        outcomes: list[Outcome | None] = []
        for i, request in enumerate(requests):
            try:
                replay = request.record.answer(stored.get(request.record.request_id), Hold)
                if replay is None:
                    made[i] = _reserve(request, available, now)
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


def _reserve(request: HoldRequest, available: dict[str, int], now: datetime | None) -> Hold:
    """The cart's hold if every line fits in what is still available (then taken from it)."""
    new = request.new
    missing = [x.sku for x in new.lines if x.sku not in available]
    if missing:
        raise unknown_skus(missing)
    assert now is not None
    short = [(x.sku, x.quantity, available[x.sku]) for x in new.lines if available[x.sku] < x.quantity]
    if short:
        raise insufficient_stock(short)
    for line in new.lines:
        available[line.sku] -= line.quantity
    prices = request.prices
    lines = new.lines
    if prices is not None:
        lines = tuple(HoldLine(x.sku, x.quantity, prices.unit_prices[x.sku]) for x in new.lines)
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
            "fingerprint": requests[i].record.fingerprint.hex(),
            "response": encode(hold).decode(),
        }
        for i, hold in made.items()
    ]
    lines = [
        {"hold_id": hold.id, "sku": x.sku, "quantity": x.quantity, "unit_price_minor": x.unit_price_minor}
        for hold in made.values()
        for x in hold.lines
    ]
    return {
        "method": requests[next(iter(made))].record.method,
        "create_time": now,
        "holds": json.dumps(holds),
        "lines": json.dumps(lines),
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

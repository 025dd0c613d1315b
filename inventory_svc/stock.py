"""Every stock verb and the locking step each starts with. Stock is kept per (SKU, location).

Where each stock verb lives:

- read levels: `get_levels` here (overdue holds never count as reserved), per location, and
  a channel's total over its active locations (`SkuLevels.total`);
- adjust (RECEIVE, ADJUST on_hand at one location): `adjust` here, statement
  `apply_adjustment` (sql/stock.sql);
- transfer (on_hand from one location to another): `transfer` here, statement
  `apply_transfer`;
- move between available and an unsellable state (MoveStock): `move_stock`, statement
  `apply_move`;
- incoming stock (CreateIncomingStock, ReceiveStock, CancelIncomingStock): `create_receipt`,
  `receive_stock`, `cancel_receipt`, statements `insert_receipt` and `apply_receipt`;
- inventory policies (SetInventoryPolicy): `set_policy`, statement `upsert_policy`; the reserve
  path reads them behind its lock (`lock_levels(policies=True)`);
- low-stock thresholds (SetStockThreshold): `set_threshold`, statement `upsert_threshold`; the
  event sequencer (event_feed.py) judges the changes it positions against them;
- cover owed units (whenever on_hand grows, and at commit): `cover`, statement `cover_owed`;
- bulk SET (absolute, optionally compare-and-set) and ADJUST of many (SKU, location) rows
  (BatchUpdateStock, ImportCatalog's stock rows): `update_stock` here, statements
  `insert_stock_rows` and `apply_stock_updates`;
- reserve (CreateHold): `create_holds` here, one transaction per
  coalesced batch of carts, each cart allocated over its channel's locations by
  `inventory_svc/allocation.py`, statement `insert_holds`;
- release and commit: `finish_hold` here, statement `finish_hold`, on exactly the hold's
  allocations;
- expire: the SQL function `expire_holds` (migration 0005), written once and called by
  `lock_levels` here on the overdue holds of the rows a transaction locks (statement
  `reclaim_overdue_holds`) and by the sweeper on the others (`sweeper/sql/expiry.sql`, which
  skips locked rows instead of waiting).

Lock order, the same on every path so carts with overlapping SKUs never deadlock: the stock
rows first, every location of each SKU, in ascending (SKU, location code) order
(`lock_levels`, statement `lock_stock`), then the hold row, a receipt row, a policy row or
owed rows (each verb takes only the ones it writes). A (SKU, location) row that an
adjustment, a transfer or a bulk update needs but that does not exist yet is inserted once the
SKU's other rows are locked (`_rows_at`): whoever else would touch it locks those first. If the row is
there after all (made while this transaction waited, after its snapshot), it is locked only if
no one holds it; else the transaction starts again rather than wait out of order
(`StaleSnapshot`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any

import psycopg
import uuid6

from holdfast_common.db.idempotency import (
    RequestRecord,
    encode,
    in_recorded_transaction,
    request_in_flight,
    send_record_lookup,
)
from holdfast_common.db.pool import AsyncConn, AsyncPool, StaleSnapshot, fetch_all, in_transaction, read
from holdfast_common.errors import (
    ErrorKind,
    FieldViolation,
    HoldfastError,
    PreconditionViolation,
    invalid_argument,
    not_found,
    unknown_skus,
)
from holdfast_common.values.pagination import PageRequest
from holdfast_common.values.validation import MAX_REPORTED_VIOLATIONS
from inventory_svc.allocation import (
    CartLine,
    Room,
    Strategy,
    allocate,
    allocate_beyond,
    insufficient_stock,
    take,
)
from inventory_svc.models import (
    COUNTS,
    AdjustmentReason,
    AllocationStrategy,
    ChannelRoute,
    Hold,
    HoldLine,
    HoldState,
    InventoryPolicy,
    LineAllocation,
    LocationRef,
    LockedPrices,
    NewHold,
    NewReceipt,
    PolicyKind,
    Receipt,
    ReceiptArrival,
    ReceiptState,
    SkuLevels,
    StockAdjustment,
    StockLevel,
    StockMove,
    StockState,
    StockThreshold,
    StockTransfer,
    StockUpdate,
    StockUpdateResult,
)
from inventory_svc.places import location_refs_of, resolve_channels, resolve_locations, routes_of
from inventory_svc.queries import Q

Levels = dict[tuple[str, str], StockLevel]


def level_of(row: Mapping[str, Any]) -> StockLevel:
    """A (SKU, location) level from a row that names its columns as the stock table does."""
    return StockLevel(
        row["sku"],
        row["on_hand"],
        row["reserved"],
        location=row["location"],
        **{name: row[name] for name in COUNTS if name in row},
    )


async def lock_levels(
    conn: AsyncConn, skus: list[str], *, policies: bool = False
) -> tuple[Levels, datetime | None, dict[tuple[str, str | None], InventoryPolicy]]:
    """Locks every location's row of `skus` (sorted) in order and reclaims their overdue holds.

    Returns the levels by (SKU, location) of the SKUs that exist, after reclaiming, the
    transaction's `now()` (None when none exists), and with `policies` the SKUs' inventory
    policies by (SKU, location or None for the default). Those are read by a statement sent
    right behind the lock, in the same round trip on a pipelined connection; it starts once
    the rows are locked, so it sees every policy change committed before (set_policy locks
    the same rows first).
    """
    cur = await conn.execute(Q.lock_stock, {"skus": skus})
    found = await conn.execute(Q.stock_policies, {"skus": skus}) if policies else None
    rows = await cur.fetchall()
    rules = {(r["sku"], r["location"]): _policy(r) for r in await found.fetchall()} if found else {}
    if not rows:
        return {}, None, rules
    levels = {(r["sku"], r["location"]): level_of(r) for r in rows}
    if rows[0]["has_overdue"]:
        locked = sorted({sku for sku, _ in levels})
        cur = await conn.execute(Q.reclaim_overdue_holds, {"skus": skus, "locked": locked})
        for r in await cur.fetchall():
            key = (r["sku"], r["location"])
            levels[key] = replace(
                levels[key],
                on_hand=r["on_hand"],
                reserved=r["reserved"],
                backordered=r["backordered"],
                preordered=r["preordered"],
            )
    return levels, rows[0]["now"], rules


def _policy(row: Mapping[str, Any]) -> InventoryPolicy:
    return InventoryPolicy(
        row["sku"],
        row["location"],
        PolicyKind(row["policy"]),
        row["backorder_limit"],
        row["preorder_limit"],
        row["preorder_end_time"],
        row["update_time"],
    )


def effective_policy(
    rules: Mapping[tuple[str, str | None], InventoryPolicy], sku: str, location: str
) -> InventoryPolicy:
    """The policy in force at (SKU, location): its override, else the variant's default, else DENY."""
    return rules.get((sku, location)) or rules.get((sku, None)) or InventoryPolicy(sku, None, PolicyKind.DENY)


def room_of(
    levels: Levels, rules: Mapping[tuple[str, str | None], InventoryPolicy], now: datetime
) -> dict[tuple[str, str], Room]:
    """What each locked (SKU, location) may still sell beyond stock now (none under DENY or
    after a preorder window): its cap less what is outstanding beyond stock there."""
    room: dict[tuple[str, str], Room] = {}
    if not rules:
        return room
    for key, level in levels.items():
        allowed = effective_policy(rules, *key).allows(now)
        if allowed is not None:
            kind, limit = allowed
            room[key] = Room(kind, max(limit - level.beyond_stock, 0))
    return room


async def cover(
    conn: AsyncConn, levels: Levels, keys: Iterable[tuple[str, str]], request_id: str | None
) -> None:
    """Covers owed units from what is available at each (SKU, location) of `keys`, oldest commit
    first (statement `cover_owed`), on rows this transaction has locked, updating `levels`.

    Called by every verb that raises on_hand (adjust, transfer in, bulk update and import,
    receipts) and by commit, after the change: available stock goes to what is owed before
    anyone else. A row that owes nothing costs nothing (no statement is sent).
    """
    owing = sorted(key for key in set(keys) if key in levels and levels[key].owed > 0)
    if not owing:
        return
    params = {
        "skus": [sku for sku, _ in owing],
        "locations": [location for _, location in owing],
        "request_id": request_id,
    }
    cur = await conn.execute(Q.cover_owed, params)
    for r in await cur.fetchall():
        levels[(r["sku"], r["location"])] = level_of(r)


async def lock_and_reclaim(conn: AsyncConn, skus: list[str]) -> tuple[Levels, datetime]:
    """lock_levels, with NOT_FOUND if any SKU is unknown."""
    levels, now, _ = await lock_levels(conn, skus)
    known = {sku for sku, _ in levels}
    missing = [s for s in skus if s not in known]
    if missing:
        raise unknown_skus(missing)
    assert now is not None
    return levels, now


def by_sku(rows: Iterable[dict[str, object]], skus: list[str]) -> list[SkuLevels]:
    """Each asked SKU's levels, in the order asked; NOT_FOUND names unknown SKUs."""
    found: dict[str, list[StockLevel]] = {}
    for row in rows:
        found.setdefault(row["sku"], []).append(level_of(row))  # type: ignore[arg-type]
    missing = [s for s in skus if s not in found]
    if missing:
        raise unknown_skus(missing)
    return [SkuLevels(s, tuple(found[s])) for s in skus]


async def get_levels(pool: AsyncPool, skus: list[str]) -> list[SkuLevels]:
    """Levels per location in the order asked, overdue holds not counted."""
    return by_sku(await fetch_all(pool, Q.stock_levels, {"skus": skus}), skus)


async def resolve_channel(pool: AsyncPool, ref: str, field: str = "channel") -> ChannelRoute:
    """The channel a request names (code or id); NOT_FOUND naming `field`."""
    return await read(pool, partial(_channel_in, ref=ref, field=field))


async def _channel_in(conn: AsyncConn, ref: str, field: str) -> ChannelRoute:
    """resolve_channel on the caller's connection, so inside its transaction."""
    found = await resolve_channels(conn, [ref])
    if ref not in found:
        raise not_found("channel", field, ref)
    return found[ref]


def usable_location(found: LocationRef | None, ref: str, field: str, *, must_be_active: bool) -> str:
    """The code of a location a request named; NOT_FOUND naming `field` when there is none,
    INVALID_ARGUMENT where it must be active and is not."""
    if found is None:
        raise not_found("location", field, ref)
    if must_be_active and not found.active:
        raise invalid_argument([FieldViolation(field, f"location {found.code} is inactive")])
    return found.code


async def _location_in(conn: AsyncConn, ref: str, field: str, *, must_be_active: bool = False) -> str:
    """Looked up inside the verb's transaction, after its request_id is claimed: a retry gets
    its first answer even if the location has changed since."""
    found = await resolve_locations(conn, [ref])
    return usable_location(found.get(ref), ref, field, must_be_active=must_be_active)


async def _rows_at(conn: AsyncConn, levels: Levels, keys: Iterable[tuple[str, str]]) -> None:
    """Adds to `levels` the (SKU, location) rows of `keys` it lacks, inserting their empty
    rows (the SKUs' rows must be locked: see the module docstring). A row made meanwhile by
    another transaction comes back as it is now, or StaleSnapshot if that one holds it."""
    missing = sorted(set(keys) - levels.keys())
    if not missing:
        return
    params = {"skus": [sku for sku, _ in missing], "locations": [location for _, location in missing]}
    cur = await conn.execute(Q.insert_stock_rows, params)
    found = {(r["sku"], r["location"]): level_of(r) for r in await cur.fetchall()}
    if len(found) < len(missing):
        raise StaleSnapshot
    levels.update(found)


async def _row_at(conn: AsyncConn, levels: Levels, sku: str, location: str) -> StockLevel:
    """The SKU's level at `location`, its empty row inserted if it has none yet (`_rows_at`)."""
    await _rows_at(conn, levels, [(sku, location)])
    return levels[(sku, location)]


def _on_hand_below_reserved(level: StockLevel, delta: int) -> HoldfastError:
    """on_hand may not fall below what is reserved plus the unsellable states (the reason's
    name is older than the states)."""
    unsellable = f" + unsellable {level.unsellable}" if level.unsellable else ""
    return HoldfastError(
        ErrorKind.FAILED_PRECONDITION,
        "ON_HAND_BELOW_RESERVED",
        f"on_hand of {level.sku} at location {level.location} would go from {level.on_hand} to "
        f"{level.on_hand + delta}, below reserved {level.reserved}{unsellable}",
        metadata={
            "sku": level.sku,
            "location": level.location,
            "on_hand": str(level.on_hand),
            "reserved": str(level.reserved),
            "unsellable": str(level.unsellable),
            "delta": str(delta),
        },
    )


async def adjust(pool: AsyncPool, adjustment: StockAdjustment, record: RequestRecord) -> StockLevel:
    """Changes on_hand at one location by delta, never below reserved there; one ledger row.

    An inactive location can be adjusted (a store closing down counts what is left).
    """

    async def work(conn: AsyncConn) -> StockLevel:
        location = await _location_in(conn, adjustment.location, "location")
        levels, _ = await lock_and_reclaim(conn, [adjustment.sku])
        level = await _row_at(conn, levels, adjustment.sku, location)
        if level.on_hand + adjustment.delta < level.reserved + level.unsellable:
            raise _on_hand_below_reserved(level, adjustment.delta)
        cur = await conn.execute(
            Q.apply_adjustment,
            {
                "sku": adjustment.sku,
                "location": location,
                "delta": adjustment.delta,
                "reason": adjustment.reason.value,
                "request_id": adjustment.request_id,
                "note": adjustment.note,
            },
        )
        row = await cur.fetchone()
        assert row is not None
        levels[(adjustment.sku, location)] = level_of(row)
        if adjustment.delta > 0:
            await cover(conn, levels, [(adjustment.sku, location)], adjustment.request_id)
        return levels[(adjustment.sku, location)]

    return await in_recorded_transaction(pool, record, StockLevel, work)


async def transfer(
    pool: AsyncPool, move: StockTransfer, record: RequestRecord
) -> tuple[StockLevel, StockLevel]:
    """Moves on_hand between two locations in one transaction, two TRANSFER ledger rows.

    Only available units move (on_hand - reserved at the source): a hold's units stay where
    they are allocated, so no location's available ever goes negative.
    """

    async def work(conn: AsyncConn) -> tuple[StockLevel, StockLevel]:
        source = await _location_in(conn, move.from_location, "from_location")
        target = await _location_in(conn, move.to_location, "to_location", must_be_active=True)
        if source == target:
            raise invalid_argument([FieldViolation("to_location", "must differ from from_location")])
        levels, _ = await lock_and_reclaim(conn, [move.sku])
        empty = StockLevel(move.sku, 0, 0, location=source)
        available = levels.get((move.sku, source), empty).available
        if available < move.quantity:
            raise insufficient_stock(
                [(move.sku, move.quantity, available)],
                preface=f"only available units move, at location {source}: ",
                metadata={"location": source},
            )
        await _row_at(conn, levels, move.sku, target)
        cur = await conn.execute(
            Q.apply_transfer,
            {
                "sku": move.sku,
                "from_location": source,
                "to_location": target,
                "quantity": move.quantity,
                "request_id": move.request_id,
                "note": move.note,
            },
        )
        for level in map(level_of, await cur.fetchall()):
            levels[(move.sku, level.location)] = level
        await cover(conn, levels, [(move.sku, target)], move.request_id)
        return levels[(move.sku, source)], levels[(move.sku, target)]

    return await in_recorded_transaction(pool, record, tuple[StockLevel, StockLevel], work)


# ------------------------------------------------------------ reserve

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
        levels, now, rules = await lock_levels(
            conn, sorted({x.sku for r in requests for x in r.new.lines}), policies=True
        )
        stored = {row["request_id"]: row for row in await records.fetchall()}
        places = BatchPlaces(
            routes_of(await channels.fetchall()),
            location_refs_of(await pinned.fetchall() if pinned else []),
            {sku for sku, _ in levels},
        )
        # What the batch's carts may take, each cart taking from what the earlier ones left:
        # available units, and room under the caps of locations that sell beyond stock.
        available = {key: level.available for key, level in levels.items()}
        room = room_of(levels, rules, now) if now is not None else {}
        outcomes: list[Outcome | None] = []
        for i, request in enumerate(requests):
            try:
                replay = request.record.answer(stored.get(request.record.request_id), Hold)
                if replay is None:
                    made[i] = _reserve(request, places, available, room, now)
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
            outcomes[i] = hold if record.request_id in stored_first else await _replayed_outcome(pool, record)
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
    request: HoldRequest,
    places: BatchPlaces,
    available: dict[tuple[str, str], int],
    room: dict[tuple[str, str], Room],
    now: datetime | None,
) -> Hold:
    """The cart's hold if every line can be allocated from what is still available (then
    taken from it), by its channel's strategy or the one the request names; failing that,
    unless the cart refuses it, with what stock cannot give sold beyond stock where a
    location's policy leaves room (`allocate_beyond`)."""
    new = request.new
    route, cart = _cart(new, places)
    assert now is not None
    strategy = Strategy(new.strategy or route.strategy)
    try:
        allocations = allocate(cart, route.locations, available, strategy)
    except HoldfastError:
        if new.deny_beyond_stock or not room:
            raise
        allocations = allocate_beyond(cart, route.locations, available, room, strategy)
    take(available, allocations, room)
    prices = request.prices
    lines = tuple(
        HoldLine(
            x.sku,
            x.quantity,
            prices.unit_prices[x.sku] if prices is not None else None,
            x.location,
            tuple(
                LineAllocation(a.location, a.quantity, a.backordered, a.preordered)
                for a in allocations
                if a.sku == x.sku
            ),
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
        {
            "hold_id": hold.id,
            "sku": x.sku,
            "location": a.location,
            "quantity": a.quantity,
            "backordered": a.backordered,
            "preordered": a.preordered,
        }
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


async def _replayed_outcome(pool: AsyncPool, record: RequestRecord) -> Outcome:
    try:
        hold = await replay_hold(pool, record)
    except HoldfastError as refusal:
        return refusal
    return hold if hold is not None else request_in_flight()


# ------------------------------------------------------------ release and commit

_FINISH_REASONS = {HoldState.RELEASED: "RELEASE", HoldState.COMMITTED: "COMMIT"}


async def finish_hold(pool: AsyncPool, hold_id: str, state: HoldState, record: RequestRecord) -> Hold:
    """Release (the units go back to available) or commit (on_hand and reserved both drop) an
    ACTIVE hold: exactly its allocations, one ledger row each."""

    async def work(conn: AsyncConn) -> Hold:
        # Lines never change, so reading them unlocked is safe; the stock rows of their SKUs
        # (every location) are then locked before the hold row, the order every path uses.
        current = await read_hold(conn, hold_id)
        cur = await conn.execute(Q.lock_stock, {"skus": [line.sku for line in current.lines]})
        levels = {(r["sku"], r["location"]): level_of(r) for r in await cur.fetchall()}
        cur = await conn.execute(Q.lock_hold, {"id": hold_id})
        row = await cur.fetchone()
        assert row is not None
        require_live(hold_id, row["state"], row["expire_time"], row["now"])
        params = {
            "id": hold_id,
            "state": state.value,
            "reason": _FINISH_REASONS[state],
            "request_id": record.request_id,
        }
        cur = await conn.execute(Q.finish_hold, params)
        owed = {(r["sku"], r["location"]): r["owed"] for r in await cur.fetchall() if r["owed"]}
        if owed:
            # Owed from now on: stock that arrived while the hold was ACTIVE covers it first.
            for key, units in owed.items():
                levels[key] = replace(levels[key], owed=levels[key].owed + units)
            await cover(conn, levels, owed, record.request_id)
        return await read_hold(conn, hold_id)

    return await in_recorded_transaction(pool, record, Hold, work)


# ------------------------------------------------------------ reading holds


def hold_from_row(row: dict[str, Any]) -> Hold:
    return Hold(
        id=row["id"],
        owner_id=row["owner_id"],
        state=HoldState(row["state"]),
        lines=tuple(
            HoldLine(s, q, p, pin, tuple(LineAllocation(*a) for a in allocated))
            for s, q, p, pin, allocated in zip(
                row["skus"],
                row["quantities"],
                row["unit_prices"],
                row["pins"],
                row["allocations"],
                strict=True,
            )
        ),
        create_time=row["create_time"],
        expire_time=row["expire_time"],
        end_time=row["end_time"],
        currency=row["currency"],
        customer_tier=row["customer_tier"],
        channel=row["channel"],
        strategy=AllocationStrategy(row["strategy"]),
    )


async def read_hold(conn: AsyncConn, hold_id: str) -> Hold:
    cur = await conn.execute(Q.get_hold, {"id": hold_id})
    row = await cur.fetchone()
    if row is None:
        raise not_found("hold", "hold_id", hold_id)
    return hold_from_row(row)


def require_live(hold_id: str, state: str, expire_time: datetime, now: datetime) -> None:
    """A hold past its expire_time is expired for every purpose, reclaimed or not."""
    if state == HoldState.EXPIRED or (state == HoldState.ACTIVE and expire_time <= now):
        raise HoldfastError(
            ErrorKind.FAILED_PRECONDITION,
            "HOLD_EXPIRED",
            f"hold {hold_id} expired at {expire_time.isoformat()}",
            metadata={"hold_id": hold_id, "expire_time": expire_time.isoformat()},
        )
    if state != HoldState.ACTIVE:
        raise HoldfastError(
            ErrorKind.FAILED_PRECONDITION,
            "HOLD_NOT_ACTIVE",
            f"hold {hold_id} is {state}",
            metadata={"hold_id": hold_id, "state": state},
        )


# ------------------------------------------------------------ bulk update


async def update_stock(
    pool: AsyncPool,
    updates: Sequence[StockUpdate],
    *,
    all_or_nothing: bool,
    validate_only: bool,
    record: RequestRecord | None,
    refused: Mapping[int, HoldfastError] | None = None,
    make_rows: bool = False,
) -> list[StockUpdateResult]:
    """SET or ADJUST on_hand at many (SKU, location) rows in one transaction (BatchUpdateStock,
    and the stock rows of ImportCatalog with record None, PER_ROW); one result per row, in
    order. `refused` holds the refusals of rows found malformed before (by index): they are
    reported, never applied.

    Each row is judged on its (SKU, location)'s level as locked, so a compare-and-set
    (`expected_on_hand`) sees every hold, commit and adjustment that committed before it, and
    none can land between the check and the write. A row is refused when its SKU or location
    does not exist, when it names a (SKU, location) an earlier row of the batch named by
    another reference, when on_hand is not the expected value, when the new on_hand would be
    below reserved there (active holds are never touched), or when a RECEIVE would lower
    on_hand. A SET to the current value changes nothing and writes no ledger row; with
    `make_rows` (ImportCatalog: an exported row of 0 must import back as a row of 0), a SET
    where the SKU has no row at that location yet makes the row even at 0 (`created`).

    all_or_nothing: any refusal raises STOCK_UPDATES_REFUSED listing every one, and nothing
    is written (the request_id is not kept either). Otherwise the good rows are written and
    the results, refusals included, are kept under the request_id. validate_only: the same
    results, read without a lock and never written or raised.

    Lock order: the stock rows of every SKU of the batch at once, each SKU with all its
    locations, in ascending (SKU, location code) order (`lock_levels`), as every other stock
    verb takes them, so a batch never deadlocks with holds or another batch over overlapping
    SKUs whatever order its rows are in. Rows a batch needs at a SKU's new location are then
    inserted in one statement (`_rows_at`), and every change is one
    more (`apply_stock_updates`), sent with COMMIT: two round trips while the rows are
    locked, one more when overdue holds are reclaimed and one more when rows are inserted.
    """
    refused = dict(refused or {})
    wanted = [u for i, u in enumerate(updates) if i not in refused]
    skus = sorted({u.sku for u in wanted})
    refs = sorted({u.location for u in wanted})

    if validate_only:

        async def look(conn: AsyncConn) -> list[StockUpdateResult]:
            locations = await resolve_locations(conn, refs)
            cur = await conn.execute(Q.stock_levels, {"skus": skus})
            levels = {(r["sku"], r["location"]): level_of(r) for r in await cur.fetchall()}
            return _plan(updates, refused, locations, levels, make_rows).results

        return await read(pool, look)

    async def work(conn: AsyncConn) -> list[StockUpdateResult]:
        # Looked up inside the transaction, after the request_id is claimed (see
        # _location_in), and sent with the lock: one round trip for both.
        found = await conn.execute(Q.resolve_locations, {"refs": refs})
        levels, _, _ = await lock_levels(conn, skus)
        locations = location_refs_of(await found.fetchall())
        plan = _plan(updates, refused, locations, levels, make_rows)
        if all_or_nothing and any(r.refusal for r in plan.results):
            raise stock_updates_refused(plan.results)
        if plan.missing:
            await _rows_at(conn, levels, plan.missing)
            if any(levels[key].on_hand or levels[key].reserved for key in plan.missing):
                # Made, and stocked, by another transaction since lock_stock's snapshot.
                plan = _plan(updates, refused, locations, levels, make_rows)
                if all_or_nothing and any(r.refusal for r in plan.results):
                    raise stock_updates_refused(plan.results)
        if plan.changes:
            # Not fetched: its answer is the levels already in the results, and it arrives
            # with COMMIT, so no round trip is spent on it while the rows are locked.
            params = {
                "rows": json.dumps(plan.changes),
                "skus": sorted({c["sku"] for c in plan.changes}),
                "request_id": record.request_id if record is not None else None,
            }
            await conn.execute(Q.apply_stock_updates, params)
            raised = [(c["sku"], c["location"]) for c in plan.changes if c["delta"] > 0]
            if any(levels.get(key, _EMPTY).owed for key in raised):
                # Owed units there are covered from the new stock; the results then show it.
                for c in plan.changes:
                    key = (c["sku"], c["location"])
                    levels[key] = replace(levels[key], on_hand=levels[key].on_hand + c["delta"])
                await cover(conn, levels, raised, record.request_id if record is not None else None)
                return [_covered(r, levels) for r in plan.results]
        return plan.results

    return await in_recorded_transaction(pool, record, list[StockUpdateResult], work, pipelined=True)


_EMPTY = StockLevel("", 0, 0)


def _covered(result: StockUpdateResult, levels: Levels) -> StockUpdateResult:
    """A written row's result with its level as it is after owed units were covered."""
    if result.level is None or result.refusal is not None:
        return result
    return replace(result, level=levels[(result.level.sku, result.level.location)])


@dataclass
class _Plan:
    """What a batch does, worked out on the levels as read or locked."""

    results: list[StockUpdateResult]
    # apply_stock_updates' rows: sku, location, delta, reason, note.
    changes: list[dict[str, Any]]
    # (SKU, location) pairs that have no stock row yet and get one.
    missing: list[tuple[str, str]]


def _plan(
    updates: Sequence[StockUpdate],
    refused: Mapping[int, HoldfastError],
    locations: dict[str, LocationRef],
    levels: Levels,
    make_rows: bool,
) -> _Plan:
    plan = _Plan([], [], [])
    known = {sku for sku, _ in levels}
    first: dict[tuple[str, str], int] = {}
    for i, update in enumerate(updates):
        subject = f"updates[{i}]"
        if i in refused:
            plan.results.append(StockUpdateResult(i, None, 0, False, refused[i]))
            continue
        place = locations.get(update.location)
        if update.sku not in known or place is None:
            plan.results.append(StockUpdateResult(i, None, 0, False, _not_found(subject, update, place)))
            continue
        key = (update.sku, place.code)
        level = levels.get(key, StockLevel(update.sku, 0, 0, location=place.code))
        if key in first:
            twice = invalid_argument(
                [
                    FieldViolation(
                        f"{subject}.location", f"names the SKU and location of updates[{first[key]}]"
                    )
                ]
            )
            plan.results.append(StockUpdateResult(i, level, level.on_hand, False, twice))
            continue
        first[key] = i
        new = (
            update.set_on_hand
            if update.set_on_hand is not None
            else level.on_hand + (update.adjust_delta or 0)
        )
        refusal = _row_refusal(subject, update, level, new)
        if refusal is not None:
            plan.results.append(StockUpdateResult(i, level, level.on_hand, False, refusal))
            continue
        changed = new != level.on_hand
        created = key not in levels and (changed or (make_rows and update.set_on_hand is not None))
        if created:
            plan.missing.append(key)
        if changed:
            plan.changes.append(
                {
                    "sku": update.sku,
                    "location": place.code,
                    "delta": new - level.on_hand,
                    "reason": update.reason.value,
                    "note": update.note,
                }
            )
        after = replace(level, on_hand=new)
        plan.results.append(StockUpdateResult(i, after, level.on_hand, changed, created=created))
    return plan


def _not_found(subject: str, update: StockUpdate, place: LocationRef | None) -> HoldfastError:
    """NOT_FOUND naming the row's field(s) that name nothing."""
    if place is None:
        error = not_found("location", f"{subject}.location", update.location)
        error.field_violations.append(FieldViolation(f"{subject}.location", "names no location"))
        return error
    error = unknown_skus([update.sku])
    error.field_violations.append(FieldViolation(f"{subject}.sku", "names no variant"))
    return error


def _row_refusal(subject: str, update: StockUpdate, level: StockLevel, new: int) -> HoldfastError | None:
    """Why the row cannot change `level` to `new` on_hand, with a PreconditionFailure naming
    the row; None when it can."""
    if update.expected_on_hand is not None and update.expected_on_hand != level.on_hand:
        refusal = HoldfastError(
            ErrorKind.FAILED_PRECONDITION,
            "ON_HAND_MISMATCH",
            f"on_hand of {level.sku} at location {level.location} is {level.on_hand}, "
            f"not the expected {update.expected_on_hand}",
            metadata={
                "sku": level.sku,
                "location": level.location,
                "expected_on_hand": str(update.expected_on_hand),
                "on_hand": str(level.on_hand),
            },
        )
    elif new < level.reserved + level.unsellable:
        refusal = _on_hand_below_reserved(level, new - level.on_hand)
    elif update.reason is AdjustmentReason.RECEIVE and new < level.on_hand:
        refusal = HoldfastError(
            ErrorKind.FAILED_PRECONDITION,
            "RECEIVE_LOWERS_ON_HAND",
            f"a RECEIVE cannot lower on_hand of {level.sku} at location {level.location} "
            f"from {level.on_hand} to {new}",
            metadata={"sku": level.sku, "location": level.location, "on_hand": str(level.on_hand)},
        )
    else:
        return None
    refusal.precondition_violations.append(PreconditionViolation(refusal.reason, subject, refusal.message))
    return refusal


def stock_updates_refused(results: Sequence[StockUpdateResult]) -> HoldfastError:
    """The one refusal of an all-or-nothing batch: every refused row by index, each one's
    field violations (malformed or unknown) and precondition violations (the rest)."""
    refused = [(r.index, r.refusal) for r in results if r.refusal is not None]
    kinds = {refusal.kind for _, refusal in refused}
    kind = ErrorKind.FAILED_PRECONDITION
    if len(kinds) == 1 and kinds <= {ErrorKind.INVALID_ARGUMENT, ErrorKind.NOT_FOUND}:
        (kind,) = kinds
    fields = [v for _, refusal in refused for v in refusal.field_violations]
    preconditions = [v for _, refusal in refused for v in refusal.precondition_violations]
    named = ", ".join(f"updates[{i}] {refusal.reason}" for i, refusal in refused[:3])
    more = f" and {len(refused) - 3} more" if len(refused) > 3 else ""
    return HoldfastError(
        kind,
        "STOCK_UPDATES_REFUSED",
        f"{len(refused)} of {len(results)} rows refused, nothing written: {named}{more}",
        metadata={"refused_rows": ",".join(str(i) for i, _ in refused), "refused_count": str(len(refused))},
        field_violations=_capped(fields, lambda n: FieldViolation(fields[MAX_REPORTED_VIOLATIONS].field, n)),
        precondition_violations=_capped(preconditions, lambda n: PreconditionViolation("MORE", "updates", n)),
    )


def _capped(items: list[Any], more: Callable[[str], Any]) -> list[Any]:
    """At most MAX_REPORTED_VIOLATIONS items, then one saying how many were left out: a
    status listing a thousand rows would not fit gRPC's trailing metadata."""
    if len(items) <= MAX_REPORTED_VIOLATIONS:
        return items
    left_out = len(items) - MAX_REPORTED_VIOLATIONS
    return [*items[:MAX_REPORTED_VIOLATIONS], more(f"and {left_out} more, not listed")]


# ------------------------------------------------------------ states


def _state_refusal(level: StockLevel, state: StockState, quantity: int) -> HoldfastError:
    return HoldfastError(
        ErrorKind.FAILED_PRECONDITION,
        "INSUFFICIENT_UNITS_IN_STATE",
        f"{level.sku} at location {level.location} has {level.held_in(state)} units {state}, "
        f"fewer than the {quantity} to move",
        metadata={
            "sku": level.sku,
            "location": level.location,
            "state": state.value,
            "requested": str(quantity),
            "held": str(level.held_in(state)),
        },
        field_violations=[FieldViolation("quantity", f"more than the {level.held_in(state)} units {state}")],
    )


async def move_stock(pool: AsyncPool, move: StockMove, record: RequestRecord) -> StockLevel:
    """Moves units between available and an unsellable state, or between two states, at one
    (SKU, location); on_hand does not change. One MOVE ledger row per side.

    Lock order: the SKU's stock rows (every location, `lock_and_reclaim`), as every stock
    verb; nothing else is locked. Only available units move into a state (reserved ones are
    promised to holds), and no more than a state holds move out of it.
    """

    async def work(conn: AsyncConn) -> StockLevel:
        location = await _location_in(conn, move.location, "location")
        levels, _ = await lock_and_reclaim(conn, [move.sku])
        level = levels.get((move.sku, location), StockLevel(move.sku, 0, 0, location=location))
        if level.held_in(move.from_state) < move.quantity:
            raise _state_refusal(level, move.from_state, move.quantity)
        deltas = dict.fromkeys(("safety_stock", "damaged", "quality_control"), 0)
        sides = []
        for state, sign in ((move.from_state, -1), (move.to_state, 1)):
            side = dict.fromkeys(deltas, 0)
            if state is not StockState.AVAILABLE:
                side[state.value.lower()] = sign * move.quantity
                deltas[state.value.lower()] += sign * move.quantity
            sides.append({**side, "note": move.note})
        params = {
            "sku": move.sku,
            "location": location,
            "request_id": move.request_id,
            "sides": json.dumps(sides),
        }
        cur = await conn.execute(Q.apply_move, {**params, **deltas})
        row = await cur.fetchone()
        assert row is not None
        levels[(move.sku, location)] = level_of(row)
        if move.to_state is StockState.AVAILABLE:
            await cover(conn, levels, [(move.sku, location)], move.request_id)
        return levels[(move.sku, location)]

    return await in_recorded_transaction(pool, record, StockLevel, work)


# ------------------------------------------------------------ incoming stock


def _receipt(row: Mapping[str, Any]) -> Receipt:
    return Receipt(
        row["id"],
        row["sku"],
        row["location"],
        row["expected"],
        row["received"],
        row["expected_time"],
        ReceiptState(row["state"]),
        row["note"],
        row["create_time"],
    )


async def create_receipt(
    pool: AsyncPool, new: NewReceipt, record: RequestRecord
) -> tuple[Receipt, StockLevel]:
    """An expected receipt at one (SKU, location): incoming there grows, one EXPECT ledger row.

    Lock order: the SKU's stock rows first (`lock_and_reclaim`; the row at the location is
    made if it has none, as an adjustment makes it), then the new receipt row.
    """

    async def work(conn: AsyncConn) -> tuple[Receipt, StockLevel]:
        location = await _location_in(conn, new.location, "location")
        levels, _ = await lock_and_reclaim(conn, [new.sku])
        level = await _row_at(conn, levels, new.sku, location)
        params = {
            "id": str(uuid6.uuid7()),
            "sku": new.sku,
            "location": location,
            "quantity": new.quantity,
            "expected_time": new.expected_time,
            "note": new.note,
            "request_id": new.request_id,
        }
        cur = await conn.execute(Q.insert_receipt, params)
        row = await cur.fetchone()
        assert row is not None
        return _receipt(row), replace(level, incoming=level.incoming + new.quantity)

    return await in_recorded_transaction(pool, record, tuple[Receipt, StockLevel], work)


def _receipt_not_open(receipt: Receipt) -> HoldfastError:
    return HoldfastError(
        ErrorKind.FAILED_PRECONDITION,
        "INCOMING_STOCK_NOT_OPEN",
        f"incoming stock {receipt.id} is {receipt.state}",
        metadata={"incoming_stock_id": receipt.id, "state": receipt.state.value},
    )


async def _lock_receipt(conn: AsyncConn, receipt_id: str) -> tuple[Receipt, Levels]:
    """The receipt, locked after its SKU's stock rows (the global order: its (SKU, location)
    never changes, so reading it unlocked first to learn the SKU is safe); FAILED_PRECONDITION
    unless it is OPEN."""
    cur = await conn.execute(Q.get_receipt, {"id": receipt_id})
    row = await cur.fetchone()
    if row is None:
        raise not_found("incoming stock", "incoming_stock_id", receipt_id)
    levels, _ = await lock_and_reclaim(conn, [row["sku"]])
    cur = await conn.execute(Q.lock_receipt, {"id": receipt_id})
    locked = await cur.fetchone()
    assert locked is not None
    receipt = _receipt(locked)
    if receipt.state is not ReceiptState.OPEN:
        raise _receipt_not_open(receipt)
    return receipt, levels


async def receive_stock(
    pool: AsyncPool, arrival: ReceiptArrival, record: RequestRecord
) -> tuple[Receipt, StockLevel]:
    """Units of an open receipt arrive: on_hand grows (one RECEIPT ledger row), incoming drops
    by what was still expected of them, and owed units there are covered first (`cover`).
    More than is still expected only with allow_over_receive; the receipt is RECEIVED once
    every expected unit is in."""

    async def work(conn: AsyncConn) -> tuple[Receipt, StockLevel]:
        receipt, levels = await _lock_receipt(conn, arrival.receipt_id)
        remaining = receipt.expected - receipt.received
        units = arrival.quantity if arrival.quantity is not None else remaining
        if units > remaining and not arrival.allow_over_receive:
            raise invalid_argument(
                [
                    FieldViolation(
                        "quantity", f"more than the {remaining} units still expected (allow_over_receive)"
                    )
                ]
            )
        return await _apply_receipt(conn, levels, receipt, arrival.request_id, units, arrival.note)

    return await in_recorded_transaction(pool, record, tuple[Receipt, StockLevel], work)


async def cancel_receipt(
    pool: AsyncPool, receipt_id: str, record: RequestRecord
) -> tuple[Receipt, StockLevel]:
    """What an open receipt still expects is no longer expected (one CANCEL ledger row)."""

    async def work(conn: AsyncConn) -> tuple[Receipt, StockLevel]:
        receipt, levels = await _lock_receipt(conn, receipt_id)
        return await _apply_receipt(conn, levels, receipt, record.request_id, 0, "")

    return await in_recorded_transaction(pool, record, tuple[Receipt, StockLevel], work)


async def _apply_receipt(
    conn: AsyncConn, levels: Levels, receipt: Receipt, request_id: str, units: int, note: str
) -> tuple[Receipt, StockLevel]:
    """Receives `units` of a locked open receipt, or cancels the rest of it when 0."""
    remaining = receipt.expected - receipt.received
    if units:
        state = ReceiptState.RECEIVED if units >= remaining else ReceiptState.OPEN
        params = {"received": units, "incoming": min(units, remaining), "reason": "RECEIPT"}
    else:
        state = ReceiptState.CANCELLED
        params = {"received": 0, "incoming": remaining, "reason": "CANCEL"}
    params |= {
        "id": receipt.id,
        "state": state.value,
        "sku": receipt.sku,
        "location": receipt.location,
        "request_id": request_id,
        "note": note,
    }
    cur = await conn.execute(Q.apply_receipt, params)
    row = await cur.fetchone()
    assert row is not None
    key = (receipt.sku, receipt.location)
    levels[key] = level_of(row)
    if units:
        await cover(conn, levels, [key], request_id)
    return _receipt(row), levels[key]


async def list_receipts(
    pool: AsyncPool, sku: str, location: str | None, open_only: bool, page: PageRequest
) -> tuple[list[Receipt], str | None]:
    """One page of a SKU's receipts, oldest first, and the id to continue after."""

    async def look(conn: AsyncConn) -> tuple[list[Receipt], str | None]:
        code = await _location_in(conn, location, "location") if location is not None else None
        params = {
            "sku": sku,
            "location": code,
            "open_only": open_only,
            "after": page.after[0] if page.after else None,
            "limit": page.size + 1,
        }
        cur = await conn.execute(Q.list_receipts, params)
        rows = await cur.fetchall()
        items = [_receipt(r) for r in rows[: page.size]]
        return items, (items[-1].id if len(rows) > page.size else None)

    return await read(pool, look)


# ------------------------------------------------------------ inventory policies


async def set_policy(pool: AsyncPool, policy: InventoryPolicy, record: RequestRecord) -> InventoryPolicy:
    """Sets a variant's default policy or one location's override.

    Lock order: the SKU's stock rows first (`lock_and_reclaim`), as the reserve path takes
    them, then the policy row: a CreateHold that reads policies behind the lock (see
    `lock_levels`) sees this change or is seen by it. A limit below what is already
    outstanding beyond stock at a location the policy governs is refused, naming the field.
    """

    async def work(conn: AsyncConn) -> InventoryPolicy:
        location = await _location_in(conn, policy.location, "policy.location") if policy.location else None
        levels, _ = await lock_and_reclaim(conn, [policy.sku])
        cur = await conn.execute(Q.stock_policies, {"skus": [policy.sku]})
        rules = {(r["sku"], r["location"]): _policy(r) for r in await cur.fetchall()}
        limit = policy.limit
        if limit is not None:
            governed = [
                level
                for (_, at), level in levels.items()
                if (at == location if location is not None else (policy.sku, at) not in rules)
            ]
            over = [level for level in governed if level.beyond_stock > limit]
            if over:
                field = (
                    "policy.backorder_limit"
                    if policy.kind is PolicyKind.BACKORDER
                    else "policy.preorder_limit"
                )
                raise invalid_argument(
                    [
                        FieldViolation(
                            field,
                            f"below the {level.beyond_stock} units sold beyond stock at {level.location}",
                        )
                        for level in over
                    ]
                )
        params = {
            "sku": policy.sku,
            "location": location,
            "policy": policy.kind.value,
            "backorder_limit": policy.backorder_limit,
            "preorder_limit": policy.preorder_limit,
            "preorder_end_time": policy.preorder_end_time,
        }
        cur = await conn.execute(Q.upsert_policy, params)
        row = await cur.fetchone()
        assert row is not None
        return _policy(row)

    return await in_recorded_transaction(pool, record, InventoryPolicy, work)


async def get_policies(pool: AsyncPool, sku: str) -> tuple[InventoryPolicy, list[InventoryPolicy]]:
    """A variant's default policy (DENY when none was set) and its location overrides."""
    rows = await fetch_all(pool, Q.stock_policies, {"skus": [sku]})
    if not rows:
        await get_levels(pool, [sku])  # NOT_FOUND for an unknown SKU
    policies = [_policy(r) for r in rows]
    default = next((p for p in policies if p.location is None), InventoryPolicy(sku, None, PolicyKind.DENY))
    return default, sorted((p for p in policies if p.location is not None), key=lambda p: p.location or "")


# ------------------------------------------------------------ low-stock thresholds


async def set_threshold(pool: AsyncPool, threshold: StockThreshold, record: RequestRecord) -> StockThreshold:
    """Sets a variant's low-stock threshold, one location's override or one channel's.

    Takes the SKU's stock rows first (`lock_and_reclaim`), as every stock verb does, for the one
    NOT_FOUND of an unknown SKU and the one lock order; no change waits on the threshold row,
    since the event sequencer judges each change against the thresholds as of its pass.
    """

    async def work(conn: AsyncConn) -> StockThreshold:
        location = (
            await _location_in(conn, threshold.location, "threshold.location") if threshold.location else ""
        )
        channel = (
            (await _channel_in(conn, threshold.channel, "threshold.channel")).code
            if threshold.channel
            else ""
        )
        await lock_and_reclaim(conn, [threshold.sku])
        params = {
            "sku": threshold.sku,
            "location": location,
            "channel": channel,
            "low_stock_at": threshold.low_stock_at,
        }
        cur = await conn.execute(Q.upsert_threshold, params)
        row = await cur.fetchone()
        assert row is not None
        return StockThreshold(
            row["sku"],
            row["location"] or None,
            row["low_stock_at"],
            row["update_time"],
            row["channel"] or None,
        )

    return await in_recorded_transaction(pool, record, StockThreshold, work)

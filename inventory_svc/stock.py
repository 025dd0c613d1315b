"""Every stock verb and the locking step each starts with. Stock is kept per (SKU, location).

Where each stock verb lives:

- read levels: `get_levels` here (overdue holds never count as reserved), per location, and
  a channel's total over its active locations (`SkuLevels.total`);
- adjust (RECEIVE, ADJUST on_hand at one location): `adjust` here, statement
  `apply_adjustment` (sql/stock.sql);
- transfer (on_hand from one location to another): `transfer` here, statement
  `apply_transfer`;
- reserve (CreateHold): `inventory_svc/hold_batches.py` `create_holds`, one transaction per
  coalesced batch of carts, each cart allocated over its channel's locations by
  `inventory_svc/allocation.py`, statement `insert_holds` (sql/holds.sql);
- release and commit: `inventory_svc/holds.py` `Holds.release` / `Holds.commit`, statement
  `finish_hold` (sql/holds.sql), on exactly the hold's allocations;
- expire: the SQL function `expire_holds` (migration 0005), written once and called by
  `lock_levels` here on the overdue holds of the rows a transaction locks (statement
  `reclaim_overdue_holds`) and by the sweeper on the others (`sweeper/sql/expiry.sql`, which
  skips locked rows instead of waiting).

Lock order, the same on every path so carts with overlapping SKUs never deadlock: the stock
rows first, every location of each SKU, in ascending (SKU, location code) order
(`lock_levels`, statement `lock_stock`), then the hold row. A (SKU, location) row that an
adjustment or a transfer needs but that does not exist yet is inserted once the SKU's other
rows are locked (`_row_at`): whoever else would touch it locks those first.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import partial
from typing import TypeVar

from holdfast_common.db.idempotency import RequestRecord, in_recorded_transaction
from holdfast_common.db.pool import AsyncConn, AsyncPool, fetch_all, read
from holdfast_common.errors import (
    ErrorKind,
    FieldViolation,
    HoldfastError,
    PreconditionViolation,
    invalid_argument,
    not_found,
    unknown_skus,
)
from inventory_svc.models import (
    ChannelRoute,
    LocationRef,
    SkuLevels,
    StockAdjustment,
    StockLevel,
    StockTransfer,
)
from inventory_svc.places import resolve_channels, resolve_locations
from inventory_svc.queries import Q

Levels = dict[tuple[str, str], StockLevel]
T = TypeVar("T")


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


def _level(row: dict[str, object]) -> StockLevel:
    return StockLevel(row["sku"], row["on_hand"], row["reserved"], location=row["location"])  # type: ignore[arg-type]


async def lock_levels(conn: AsyncConn, skus: list[str]) -> tuple[Levels, datetime | None]:
    """Locks every location's row of `skus` (sorted) in order and reclaims their overdue holds.

    Returns the levels by (SKU, location) of the SKUs that exist, after reclaiming, and the
    transaction's `now()` (None when none exists).
    """
    cur = await conn.execute(Q.lock_stock, {"skus": skus})
    rows = await cur.fetchall()
    if not rows:
        return {}, None
    levels = {(r["sku"], r["location"]): _level(r) for r in rows}
    if rows[0]["has_overdue"]:
        locked = sorted({sku for sku, _ in levels})
        cur = await conn.execute(Q.reclaim_overdue_holds, {"skus": skus, "locked": locked})
        for r in await cur.fetchall():
            levels[(r["sku"], r["location"])] = _level(r)
    return levels, rows[0]["now"]


async def lock_and_reclaim(conn: AsyncConn, skus: list[str]) -> tuple[Levels, datetime]:
    """lock_levels, with NOT_FOUND if any SKU is unknown."""
    levels, now = await lock_levels(conn, skus)
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
        found.setdefault(row["sku"], []).append(_level(row))  # type: ignore[arg-type]
    missing = [s for s in skus if s not in found]
    if missing:
        raise unknown_skus(missing)
    return [SkuLevels(s, tuple(found[s])) for s in skus]


async def get_levels(pool: AsyncPool, skus: list[str]) -> list[SkuLevels]:
    """Levels per location in the order asked, overdue holds not counted."""
    return by_sku(await fetch_all(pool, Q.stock_levels, {"skus": skus}), skus)


async def resolve_channel(pool: AsyncPool, ref: str, field: str = "channel") -> ChannelRoute:
    """The channel a request names (code or id); NOT_FOUND naming `field`."""
    found = await read(pool, partial(resolve_channels, refs=[ref]))
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


async def resolve_location(pool: AsyncPool, ref: str, field: str, *, must_be_active: bool = False) -> str:
    found = await read(pool, partial(resolve_locations, refs=[ref]))
    return usable_location(found.get(ref), ref, field, must_be_active=must_be_active)


async def _replay(pool: AsyncPool, record: RequestRecord, result_type: type[T]) -> T | None:
    """A retry's first answer, before anything of the request is looked up again (the
    location it named may have changed since)."""
    return await read(pool, partial(record.replay, result_type=result_type))


async def _row_at(conn: AsyncConn, levels: Levels, sku: str, location: str) -> StockLevel:
    """The SKU's level at `location`, its empty row inserted if it has none yet (the SKU's
    rows must be locked: see the module docstring)."""
    if (sku, location) in levels:
        return levels[(sku, location)]
    cur = await conn.execute(Q.insert_stock_row, {"sku": sku, "location": location})
    row = await cur.fetchone()
    assert row is not None
    return _level(row)


def _on_hand_below_reserved(level: StockLevel, delta: int) -> HoldfastError:
    return HoldfastError(
        ErrorKind.FAILED_PRECONDITION,
        "ON_HAND_BELOW_RESERVED",
        f"on_hand {level.on_hand} + delta {delta} would fall below reserved {level.reserved} "
        f"at location {level.location}",
        metadata={
            "sku": level.sku,
            "location": level.location,
            "on_hand": str(level.on_hand),
            "reserved": str(level.reserved),
            "delta": str(delta),
        },
    )


async def adjust(pool: AsyncPool, adjustment: StockAdjustment, record: RequestRecord) -> StockLevel:
    """Changes on_hand at one location by delta, never below reserved there; one ledger row.

    An inactive location can be adjusted (a store closing down counts what is left).
    """
    replay = await _replay(pool, record, StockLevel)
    if replay is not None:
        return replay
    location = await resolve_location(pool, adjustment.location, "location")

    async def work(conn: AsyncConn) -> StockLevel:
        levels, _ = await lock_and_reclaim(conn, [adjustment.sku])
        level = await _row_at(conn, levels, adjustment.sku, location)
        if level.on_hand + adjustment.delta < level.reserved:
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
        return _level(row)

    return await in_recorded_transaction(pool, record, StockLevel, work)


async def transfer(
    pool: AsyncPool, move: StockTransfer, record: RequestRecord
) -> tuple[StockLevel, StockLevel]:
    """Moves on_hand between two locations in one transaction, two TRANSFER ledger rows.

    Only available units move (on_hand - reserved at the source): a hold's units stay where
    they are allocated, so no location's available ever goes negative.
    """
    replay = await _replay(pool, record, tuple[StockLevel, StockLevel])
    if replay is not None:
        return replay
    source = await resolve_location(pool, move.from_location, "from_location")
    target = await resolve_location(pool, move.to_location, "to_location", must_be_active=True)
    if source == target:
        raise invalid_argument([FieldViolation("to_location", "must differ from from_location")])

    async def work(conn: AsyncConn) -> tuple[StockLevel, StockLevel]:
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
        moved = {level.location: level for level in map(_level, await cur.fetchall())}
        return moved[source], moved[target]

    return await in_recorded_transaction(pool, record, tuple[StockLevel, StockLevel], work)

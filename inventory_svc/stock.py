"""Stock levels, adjustments, and the locking step every stock change starts with.

Where each stock verb lives:

- read levels: `get_levels` here (overdue holds never count as reserved);
- adjust (RECEIVE, ADJUST on_hand): `adjust` here, statement `apply_adjustment` (sql/stock.sql);
- reserve (CreateHold): `inventory_svc/hold_batches.py` `create_holds`, one transaction per
  coalesced batch of carts, statement `insert_holds` (sql/holds.sql);
- release and commit: `inventory_svc/holds.py` `Holds.release` / `Holds.commit`, statement
  `finish_hold` (sql/holds.sql);
- reclaim an overdue hold on the rows a transaction locks: `lock_levels` here, statement
  `reclaim_overdue_holds` (sql/stock.sql);
- expire the other overdue holds: the sweeper, `sweeper/expiry.py`, statement
  `expire_overdue_batch` (sweeper/sql/expiry.sql), which skips locked rows instead of waiting.

Lock order, the same on every path so carts with overlapping SKUs never deadlock: the stock
rows first, in ascending SKU order (`lock_levels`, statement `lock_stock`), then the hold row.
"""

from __future__ import annotations

from datetime import datetime

from holdfast_common.db.idempotency import RequestRecord, in_recorded_transaction
from holdfast_common.db.pool import AsyncConn, AsyncPool, fetch_all
from holdfast_common.errors import ErrorKind, HoldfastError, PreconditionViolation, unknown_skus
from inventory_svc.models import StockAdjustment, StockLevel
from inventory_svc.queries import Q


def insufficient_stock(
    short: list[tuple[str, int, int]], *, strategy: str | None = None, preface: str = ""
) -> HoldfastError:
    """FAILED_PRECONDITION naming every short SKU with what was asked and what is available.

    An allocation strategy that refuses for reasons of its own (inventory_svc.allocation) puts
    its name in metadata "strategy" and its reason in `preface`, before the usual message; the
    other keys are the same either way.
    """
    sku, requested, available = short[0]
    metadata = {
        "sku": sku,
        "requested": str(requested),
        "available": str(available),
        "skus": ",".join(s for s, _, _ in short),
    }
    if strategy is not None:
        metadata["strategy"] = strategy
    return HoldfastError(
        ErrorKind.FAILED_PRECONDITION,
        "INSUFFICIENT_STOCK",
        preface
        + "not enough stock for: "
        + ", ".join(f"{s} (requested {r}, available {a})" for s, r, a in short),
        metadata=metadata,
        precondition_violations=[
            PreconditionViolation("STOCK", s, f"requested {r}, available {a}") for s, r, a in short
        ],
    )


async def lock_levels(conn: AsyncConn, skus: list[str]) -> tuple[dict[str, StockLevel], datetime | None]:
    """Locks the stock rows of `skus` (sorted) in order and reclaims their overdue holds.

    Returns the levels of the SKUs that exist, after reclaiming, and the transaction's
    `now()` (None when none exists).
    """
    cur = await conn.execute(Q.lock_stock, {"skus": skus})
    rows = await cur.fetchall()
    if not rows:
        return {}, None
    levels = {r["sku"]: StockLevel(r["sku"], r["on_hand"], r["reserved"]) for r in rows}
    if rows[0]["has_overdue"]:
        cur = await conn.execute(Q.reclaim_overdue_holds, {"skus": skus, "locked": list(levels)})
        for r in await cur.fetchall():
            levels[r["sku"]] = StockLevel(r["sku"], r["on_hand"], r["reserved"])
    return levels, rows[0]["now"]


async def lock_and_reclaim(conn: AsyncConn, skus: list[str]) -> tuple[dict[str, StockLevel], datetime]:
    """lock_levels, with NOT_FOUND if any SKU is unknown."""
    levels, now = await lock_levels(conn, skus)
    missing = [s for s in skus if s not in levels]
    if missing:
        raise unknown_skus(missing)
    assert now is not None
    return levels, now


async def get_levels(pool: AsyncPool, skus: list[str]) -> list[StockLevel]:
    """Levels in the order asked, overdue holds not counted; NOT_FOUND names unknown SKUs."""
    rows = await fetch_all(pool, Q.stock_levels, {"skus": skus})
    found = {r["sku"]: StockLevel(r["sku"], r["on_hand"], r["reserved"]) for r in rows}
    missing = [s for s in skus if s not in found]
    if missing:
        raise unknown_skus(missing)
    return [found[s] for s in skus]


async def adjust(pool: AsyncPool, adjustment: StockAdjustment, record: RequestRecord) -> StockLevel:
    """Changes on_hand by delta, never below reserved; one ledger row."""

    async def work(conn: AsyncConn) -> StockLevel:
        levels, _ = await lock_and_reclaim(conn, [adjustment.sku])
        level = levels[adjustment.sku]
        if level.on_hand + adjustment.delta < level.reserved:
            raise HoldfastError(
                ErrorKind.FAILED_PRECONDITION,
                "ON_HAND_BELOW_RESERVED",
                f"on_hand {level.on_hand} + delta {adjustment.delta} would fall below "
                f"reserved {level.reserved}",
                metadata={
                    "sku": adjustment.sku,
                    "on_hand": str(level.on_hand),
                    "reserved": str(level.reserved),
                    "delta": str(adjustment.delta),
                },
            )
        cur = await conn.execute(
            Q.apply_adjustment,
            {
                "sku": adjustment.sku,
                "delta": adjustment.delta,
                "reason": adjustment.reason.value,
                "request_id": adjustment.request_id,
                "note": adjustment.note,
            },
        )
        row = await cur.fetchone()
        assert row is not None
        return StockLevel(row["sku"], row["on_hand"], row["reserved"])

    return await in_recorded_transaction(pool, record, StockLevel, work)

"""Holds: all-or-nothing soft reservations with a TTL, then commit, release or expiry.

Which module changes stock for each verb, and the lock order: inventory_svc/stock.py.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from functools import partial
from typing import Protocol

from holdfast_common.coalescer import Coalescer
from holdfast_common.db.idempotency import RequestRecord, in_recorded_transaction
from holdfast_common.db.pool import AsyncConn, AsyncPool, fetch_all, fetch_one
from holdfast_common.errors import HoldfastError, not_found
from holdfast_common.settings import HoldSettings
from holdfast_common.values.pagination import PageRequest
from inventory_svc.models import (
    Hold,
    HoldLine,
    HoldState,
    LockedPrices,
    NewHold,
)
from inventory_svc.queries import Q
from inventory_svc.stock import (
    HoldRequest,
    create_holds,
    finish_hold,
    hold_from_row,
    read_hold,
    replay_hold,
    require_live,
)


class PriceLocker(Protocol):
    """What a priced hold needs of pricing (inventory_svc/pricing_client.py's PricingClient)."""

    async def lock_prices(self, lines: tuple[HoldLine, ...], customer_tier: str) -> LockedPrices:
        """The cart's unit prices for the tier, or the refusal (a HoldfastError) to pass on."""
        ...


class Holds:
    """Hold operations on one pool, with the configured TTL limits; a priced hold's prices
    come from `pricing`.

    CreateHolds go through a coalescer: those that arrive while a batch is running share
    the next one's transaction.
    """

    def __init__(self, pool: AsyncPool, settings: HoldSettings, pricing: PriceLocker) -> None:
        self._pool = pool
        self._pricing = pricing
        self._max_lifetime = timedelta(seconds=settings.hold_max_lifetime_seconds)
        self._batches = Coalescer[HoldRequest, Hold](
            partial(create_holds, pool),
            max_batch=settings.hold_batch_max_size,
            concurrency=settings.hold_batch_concurrency,
            max_wait=settings.hold_batch_max_wait_seconds,
        )

    async def close(self) -> None:
        await self._batches.close()

    async def create(self, new: NewHold, record: RequestRecord) -> Hold:
        """Reserves every line or nothing; INSUFFICIENT_STOCK names every short SKU.

        With a customer tier, each line keeps the unit price pricing quotes now for the
        life of the hold.
        """
        prices = None
        if new.customer_tier is not None:
            # Quote before the transaction: no lock is ever held while pricing answers.
            try:
                prices = await self._pricing.lock_prices(new.lines, new.customer_tier)
            except HoldfastError:
                # A retry of a hold already made still gets its first answer while
                # pricing is down or now refuses the cart.
                replay = await replay_hold(self._pool, record)
                if replay is None:
                    raise
                return replay
        return await self._batches.submit(HoldRequest(new, record, prices), key=record.request_id)

    async def get(self, hold_id: str) -> Hold:
        """The hold; a line of an ACTIVE hold sold beyond stock carries its promise time as
        incoming stock stands now."""
        row = await fetch_one(self._pool, Q.get_hold, {"id": hold_id})
        if row is None:
            raise not_found("hold", "hold_id", hold_id)
        hold = hold_from_row(row)
        if hold.state is not HoldState.ACTIVE or not any(x.backordered or x.preordered for x in hold.lines):
            return hold
        promises = {
            r["sku"]: r["promise_time"] for r in await fetch_all(self._pool, Q.promise_times, {"id": hold_id})
        }
        return replace(hold, lines=tuple(replace(x, promise_time=promises.get(x.sku)) for x in hold.lines))

    async def list(
        self, owner_id: str, state: HoldState | None, page: PageRequest
    ) -> tuple[list[Hold], str | None]:
        """One page of an owner's holds, oldest first, and the id to continue after."""
        rows = await fetch_all(
            self._pool,
            Q.list_holds,
            {
                "owner_id": owner_id,
                "state": state.value if state else None,
                "after": page.after[0] if page.after else None,
                "limit": page.size + 1,
            },
        )
        holds = [hold_from_row(r) for r in rows[: page.size]]
        return holds, (holds[-1].id if len(rows) > page.size else None)

    async def extend(self, hold_id: str, ttl: timedelta, record: RequestRecord) -> Hold:
        """expire_time = now + ttl, never past create_time + the maximum lifetime."""

        async def work(conn: AsyncConn) -> Hold:
            cur = await conn.execute(Q.lock_hold, {"id": hold_id})
            row = await cur.fetchone()
            if row is None:
                raise not_found("hold", "hold_id", hold_id)
            require_live(hold_id, row["state"], row["expire_time"], row["now"])
            expire_time = min(row["now"] + ttl, row["create_time"] + self._max_lifetime)
            await conn.execute(Q.extend_hold, {"id": hold_id, "expire_time": expire_time})
            return await read_hold(conn, hold_id)

        return await in_recorded_transaction(self._pool, record, Hold, work)

    async def release(self, hold_id: str, record: RequestRecord) -> Hold:
        """Returns the held units to available stock."""
        return await finish_hold(self._pool, hold_id, HoldState.RELEASED, record)

    async def commit(self, hold_id: str, record: RequestRecord) -> Hold:
        """Checkout: on_hand and reserved both drop by the held quantities."""
        return await finish_hold(self._pool, hold_id, HoldState.COMMITTED, record)

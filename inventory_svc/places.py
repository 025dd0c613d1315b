"""Locations (where stock is kept) and the sales channels that sell from them."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

import uuid6
from psycopg import errors as pg_errors

from holdfast_common.db.idempotency import RequestRecord, in_recorded_transaction
from holdfast_common.db.pool import AsyncConn, AsyncPool, fetch_all, fetch_one
from holdfast_common.errors import ErrorKind, FieldViolation, HoldfastError, invalid_argument, not_found
from holdfast_common.values.pagination import PageRequest
from inventory_svc.models import (
    AllocationStrategy,
    Channel,
    ChannelChange,
    ChannelRoute,
    Location,
    LocationChange,
    LocationRef,
    NewChannel,
    NewLocation,
    PlaceRef,
)
from inventory_svc.queries import Q


def _already_exists(what: str, code: str) -> HoldfastError:
    return HoldfastError(
        ErrorKind.ALREADY_EXISTS,
        f"{what.upper()}_ALREADY_EXISTS",
        f"a {what} with code {code!r} already exists",
        metadata={"code": code},
    )


def _channel(row: dict[str, Any]) -> Channel:
    return Channel(
        id=row["id"],
        code=row["code"],
        name=row["name"],
        location_codes=tuple(row["location_codes"]),
        strategy=AllocationStrategy(row["strategy"]),
        create_time=row["create_time"],
    )


def _page(rows: list[Any], page: PageRequest) -> tuple[list[Any], str | None]:
    """Rows of this page and the code to continue after (one extra row is always fetched)."""
    items = rows[: page.size]
    return items, (items[-1].code if len(rows) > page.size else None)


def _list_params(page: PageRequest) -> dict[str, Any]:
    return {"after": page.after[0] if page.after else None, "limit": page.size + 1}


def _check_code(what: str, target: PlaceRef, code: str) -> None:
    """A code given beside an id must be the code of that id: codes never change."""
    if target.code is not None and target.code != code:
        field = target.field.rsplit(".", 1)[0] + ".code"
        raise invalid_argument([FieldViolation(field, f"is not the code of the {what} named by its id")])


async def _check_locations_exist(conn: AsyncConn, codes: tuple[str, ...], field: str) -> None:
    """NOT_FOUND naming the first of `codes` that is no location's code."""
    cur = await conn.execute(Q.missing_location, {"codes": list(codes)})
    missing = await cur.fetchone()
    if missing is not None:
        raise not_found("location", f"{field}[{missing['index']}]", missing["code"])


async def _set_channel_locations(conn: AsyncConn, channel_id: str, codes: tuple[str, ...]) -> None:
    await conn.execute(Q.delete_channel_locations, {"channel_id": channel_id})
    await conn.execute(Q.insert_channel_locations, {"channel_id": channel_id, "codes": list(codes)})


async def _read_channel(conn: AsyncConn, ref: str) -> Channel:
    cur = await conn.execute(Q.get_channel, {"ref": ref})
    row = await cur.fetchone()
    assert row is not None
    return _channel(row)


async def _insert_location(new: NewLocation, conn: AsyncConn) -> Location:
    params = {"id": str(uuid6.uuid7()), "code": new.code, "name": new.name, "active": new.active}
    cur = await conn.execute(Q.insert_location, params)
    row = await cur.fetchone()
    assert row is not None
    return Location(**row)


async def _update_location(target: PlaceRef, change: LocationChange, conn: AsyncConn) -> Location:
    cur = await conn.execute(Q.get_location, {"ref": target.ref})
    found = await cur.fetchone()
    if found is None:
        raise not_found("location", target.field, target.ref)
    _check_code("location", target, found["code"])
    params = {"id": found["id"], "name": change.name, "active": change.active}
    cur = await conn.execute(Q.update_location, params)
    row = await cur.fetchone()
    assert row is not None
    return Location(**row)


async def _insert_channel(new: NewChannel, conn: AsyncConn) -> Channel:
    await _check_locations_exist(conn, new.location_codes, "channel.location_codes")
    channel_id = str(uuid6.uuid7())
    params = {"id": channel_id, "code": new.code, "name": new.name, "strategy": new.strategy.value}
    await conn.execute(Q.insert_channel, params)
    await _set_channel_locations(conn, channel_id, new.location_codes)
    return await _read_channel(conn, channel_id)


async def _update_channel(target: PlaceRef, change: ChannelChange, conn: AsyncConn) -> Channel:
    cur = await conn.execute(Q.lock_channel, {"ref": target.ref})
    found = await cur.fetchone()
    if found is None:
        raise not_found("channel", target.field, target.ref)
    _check_code("channel", target, found["code"])
    if change.location_codes is not None:
        await _check_locations_exist(conn, change.location_codes, "channel.location_codes")
        await _set_channel_locations(conn, found["id"], change.location_codes)
    strategy = change.strategy.value if change.strategy else None
    await conn.execute(Q.update_channel, {"id": found["id"], "name": change.name, "strategy": strategy})
    return await _read_channel(conn, found["id"])


class Places:
    """Creates, reads, lists and updates locations and channels; never deletes one."""

    def __init__(self, pool: AsyncPool) -> None:
        self._pool = pool

    async def create_location(self, new: NewLocation, record: RequestRecord | None) -> Location:
        try:
            make = partial(_insert_location, new)
            return await in_recorded_transaction(self._pool, record, Location, make)
        except pg_errors.UniqueViolation:
            raise _already_exists("location", new.code) from None

    async def get_location(self, ref: str) -> Location:
        row = await fetch_one(self._pool, Q.get_location, {"ref": ref})
        if row is None:
            raise not_found("location", "location", ref)
        return Location(**row)

    async def list_locations(self, page: PageRequest) -> tuple[list[Location], str | None]:
        """Locations by code."""
        rows = await fetch_all(self._pool, Q.list_locations, _list_params(page))
        return _page([Location(**r) for r in rows], page)

    async def update_location(
        self, target: PlaceRef, change: LocationChange, record: RequestRecord | None
    ) -> Location:
        """Renames or (de)activates a location; its stock and holds stay as they are."""
        make = partial(_update_location, target, change)
        return await in_recorded_transaction(self._pool, record, Location, make)

    async def create_channel(self, new: NewChannel, record: RequestRecord | None) -> Channel:
        """A channel selling from existing locations (inactive ones too: they just allocate nothing)."""
        try:
            make = partial(_insert_channel, new)
            return await in_recorded_transaction(self._pool, record, Channel, make)
        except pg_errors.UniqueViolation:
            raise _already_exists("channel", new.code) from None

    async def get_channel(self, ref: str) -> Channel:
        row = await fetch_one(self._pool, Q.get_channel, {"ref": ref})
        if row is None:
            raise not_found("channel", "channel", ref)
        return _channel(row)

    async def list_channels(self, page: PageRequest) -> tuple[list[Channel], str | None]:
        """Channels by code."""
        rows = await fetch_all(self._pool, Q.list_channels, _list_params(page))
        return _page([_channel(r) for r in rows], page)

    async def update_channel(
        self, target: PlaceRef, change: ChannelChange, record: RequestRecord | None
    ) -> Channel:
        make = partial(_update_channel, target, change)
        return await in_recorded_transaction(self._pool, record, Channel, make)


async def resolve_channels(conn: AsyncConn, refs: list[str]) -> dict[str, ChannelRoute]:
    """The channels `refs` name (code or id; "" is channel `default`), by ref; a ref that
    names none is missing from the answer. Runs on the caller's connection, so inside its
    transaction."""
    cur = await conn.execute(Q.resolve_channels, {"refs": refs})
    return routes_of(await cur.fetchall())


async def resolve_locations(conn: AsyncConn, refs: list[str]) -> dict[str, LocationRef]:
    """The locations `refs` name (code or id), by ref; a ref that names none is missing."""
    cur = await conn.execute(Q.resolve_locations, {"refs": refs})
    return location_refs_of(await cur.fetchall())


def routes_of(rows: Iterable[dict[str, Any]]) -> dict[str, ChannelRoute]:
    """resolve_channels' rows (a caller that pipelines the query reads them itself)."""
    return {
        row["ref"]: ChannelRoute(row["code"], AllocationStrategy(row["strategy"]), tuple(row["locations"]))
        for row in rows
    }


def location_refs_of(rows: Iterable[dict[str, Any]]) -> dict[str, LocationRef]:
    """resolve_locations' rows."""
    return {row["ref"]: LocationRef(row["code"], row["active"]) for row in rows}

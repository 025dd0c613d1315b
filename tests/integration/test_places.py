"""Locations and channels: create, get by id or code, list by code, update through a mask,
idempotent retries, every refusal writing nothing, and the resolvers the stock core uses."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import grpc
import psycopg
import pytest
from google.protobuf import field_mask_pb2
from holdfast.inventory.v1 import inventory_pb2 as pb
from psycopg.rows import dict_row

from inventory_svc.models import AllocationStrategy, ChannelRoute, LocationRef
from inventory_svc.places import resolve_channels, resolve_locations
from tests.support.bad_input import BAD, INVALID, NOT_FOUND, Case
from tests.support.grpc_helpers import new_request_id, refusal

PRIORITY = pb.ALLOCATION_STRATEGY_PRIORITY
PLACES = """
SELECT (SELECT md5(COALESCE(string_agg(l::text, ',' ORDER BY l.code), '')) FROM locations l),
       (SELECT md5(COALESCE(string_agg(c::text, ',' ORDER BY c.code), '')) FROM channels c),
       (SELECT md5(COALESCE(string_agg(x::text, ',' ORDER BY x::text), '')) FROM channel_locations x),
       (SELECT count(*) FROM idempotency_keys)
"""


def _code(prefix: str = "loc") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _location(inventory, code: str | None = None, *, name: str = "Warehouse", **fields: Any) -> pb.Location:
    request = pb.CreateLocationRequest(location=pb.Location(code=code or _code(), name=name), **fields)
    return inventory.stub.CreateLocation(request).location


def _channel(inventory, location_codes: list[str], *, strategy=PRIORITY, **fields: Any) -> pb.Channel:
    channel = pb.Channel(
        code=fields.pop("code", None) or _code("ch"),
        name=fields.pop("name", "Web shop"),
        location_codes=location_codes,
        strategy=strategy,
    )
    return inventory.stub.CreateChannel(pb.CreateChannelRequest(channel=channel, **fields)).channel


def _mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(paths))


def _refused_unchanged(db: psycopg.Connection, call, request, code: grpc.StatusCode, field: str):
    """The call is refused with `code`, names `field`, and leaves every place table as it was."""
    before = db.execute(PLACES).fetchone()
    f = refusal(call, request)
    assert f.code == code, f.message
    assert f.domain == "holdfast.inventory"
    named = [name for name, _ in f.field_violations] + list(f.metadata)
    assert field in named, (f.field_violations, f.metadata)
    assert db.execute(PLACES).fetchone() == before, "a refused request changed the database"
    return f


# ---------------------------------------------------------------- the defaults


def test_the_default_location_and_channel_exist(inventory):
    location = inventory.stub.GetLocation(pb.GetLocationRequest(location="default")).location
    assert (location.code, location.active) == ("default", True)
    channel = inventory.stub.GetChannel(pb.GetChannelRequest(channel="default")).channel
    assert channel.code == "default"
    assert list(channel.location_codes) == ["default"]
    assert channel.strategy == PRIORITY


# ---------------------------------------------------------------- locations


def test_create_and_get_a_location_by_id_and_by_code(inventory):
    code = _code()
    made = _location(inventory, code, name="North warehouse")
    assert uuid.UUID(made.id)
    assert (made.code, made.name, made.active) == (code, "North warehouse", True)
    assert made.create_time.seconds > 0
    for ref in (made.id, made.id.upper(), code):
        assert inventory.stub.GetLocation(pb.GetLocationRequest(location=ref)).location == made


def test_a_location_can_be_created_inactive(inventory):
    assert not _location(inventory, create_inactive=True).active


def test_ids_and_create_times_given_on_create_are_ignored(inventory):
    forced = str(uuid.uuid4())
    made = inventory.stub.CreateLocation(
        pb.CreateLocationRequest(location=pb.Location(id=forced, code=_code(), name="n"))
    ).location
    assert made.id != forced


def test_a_duplicate_location_code_already_exists(inventory, db):
    code = _code()
    _location(inventory, code)
    request = pb.CreateLocationRequest(location=pb.Location(code=code, name="again"))
    f = _refused_unchanged(db, inventory.stub.CreateLocation, request, grpc.StatusCode.ALREADY_EXISTS, "code")
    assert f.reason == "LOCATION_ALREADY_EXISTS"


def test_update_a_location_by_id_or_code(inventory):
    made = _location(inventory, name="Old")
    renamed = inventory.stub.UpdateLocation(
        pb.UpdateLocationRequest(location=pb.Location(id=made.id, name="New"), update_mask=_mask("name"))
    ).location
    assert (renamed.name, renamed.active, renamed.code) == ("New", True, made.code)
    closed = inventory.stub.UpdateLocation(
        pb.UpdateLocationRequest(
            location=pb.Location(code=made.code, active=False), update_mask=_mask("active")
        )
    ).location
    assert (closed.name, closed.active) == ("New", False)
    # Both given: the code is that of the id.
    both = pb.Location(id=made.id, code=made.code, name="Both", active=True)
    updated = inventory.stub.UpdateLocation(
        pb.UpdateLocationRequest(location=both, update_mask=_mask("name", "active"))
    ).location
    assert (updated.name, updated.active) == ("Both", True)
    assert inventory.stub.GetLocation(pb.GetLocationRequest(location=made.id)).location == updated


def test_update_writes_only_the_masked_fields(inventory):
    made = _location(inventory, name="Kept")
    # active=False is in the message but not in the mask: it is not written.
    request = pb.UpdateLocationRequest(
        location=pb.Location(code=made.code, name="Changed", active=False), update_mask=_mask("name")
    )
    updated = inventory.stub.UpdateLocation(request).location
    assert (updated.name, updated.active) == ("Changed", True)


def test_deactivating_a_location_leaves_its_stock_alone(inventory, db):
    made = _location(inventory)
    product = inventory.client.product("stocked")
    sku = f"SKU-{uuid.uuid4().hex[:10]}"
    # Written directly: the stock verbs of each location are the core's, not this module's.
    db.execute(
        "INSERT INTO variants (id, product_id, sku, price_adjustment_minor) VALUES (%s, %s, %s, 0)",
        (str(uuid.uuid4()), product.id, sku),
    )
    db.execute("INSERT INTO stock (sku, location, on_hand, reserved) VALUES (%s, %s, 4, 0)", (sku, made.code))
    db.execute(
        "INSERT INTO stock_ledger (sku, location, delta_on_hand, delta_reserved, reason)"
        " VALUES (%s, %s, 4, 0, 'RECEIVE')",
        (sku, made.code),
    )
    inventory.stub.UpdateLocation(
        pb.UpdateLocationRequest(location=pb.Location(code=made.code), update_mask=_mask("active"))
    )
    rows = db.execute("SELECT location, on_hand, reserved FROM stock WHERE sku = %s", (sku,)).fetchall()
    assert rows == [(made.code, 4, 0)]


def _codes_in_pages(list_call, request_type, items: str, page_size: int = 2) -> list[str]:
    """Every code a list call returns, page after page, each page at most page_size long."""
    codes, token = [], ""
    while True:
        response = list_call(request_type(page_size=page_size, page_token=token))
        page = getattr(response, items)
        assert len(page) <= page_size
        codes += [x.code for x in page]
        token = response.next_page_token
        if not token:
            return codes


def test_list_locations_by_code_in_pages(inventory):
    made = sorted(_location(inventory, _code("page")).code for _ in range(5))
    seen = _codes_in_pages(inventory.stub.ListLocations, pb.ListLocationsRequest, "locations")
    assert seen == sorted(seen)
    assert set(made) <= set(seen) and "default" in seen
    everything = inventory.stub.ListLocations(pb.ListLocationsRequest()).locations
    assert [x.code for x in everything] == seen[: len(everything)]


# ---------------------------------------------------------------- channels


def test_create_get_and_list_a_channel(inventory):
    a, b = _location(inventory).code, _location(inventory).code
    made = _channel(inventory, [b, a, "default"], strategy=pb.ALLOCATION_STRATEGY_MOST_AVAILABLE, name="Shop")
    assert uuid.UUID(made.id)
    assert list(made.location_codes) == [b, a, "default"]
    assert (made.name, made.strategy) == ("Shop", pb.ALLOCATION_STRATEGY_MOST_AVAILABLE)
    for ref in (made.id, made.code):
        assert inventory.stub.GetChannel(pb.GetChannelRequest(channel=ref)).channel == made
    listed = inventory.stub.ListChannels(pb.ListChannelsRequest(page_size=1000)).channels
    assert [c.code for c in listed] == sorted(c.code for c in listed)
    assert made in listed


def test_a_channel_may_sell_from_an_inactive_location(inventory):
    closed = _location(inventory, create_inactive=True).code
    assert list(_channel(inventory, [closed]).location_codes) == [closed]


def test_update_a_channel(inventory):
    a, b = _location(inventory).code, _location(inventory).code
    made = _channel(inventory, [a])
    patch = pb.Channel(
        id=made.id, name="Renamed", location_codes=[b, a], strategy=pb.ALLOCATION_STRATEGY_SINGLE_LOCATION
    )
    updated = inventory.stub.UpdateChannel(
        pb.UpdateChannelRequest(channel=patch, update_mask=_mask("name", "location_codes", "strategy"))
    ).channel
    assert (updated.id, updated.code, updated.name) == (made.id, made.code, "Renamed")
    assert list(updated.location_codes) == [b, a]
    assert updated.strategy == pb.ALLOCATION_STRATEGY_SINGLE_LOCATION
    # By code, only the locations: the rest stays.
    again = inventory.stub.UpdateChannel(
        pb.UpdateChannelRequest(
            channel=pb.Channel(code=made.code, name="ignored", location_codes=[a]),
            update_mask=_mask("location_codes"),
        )
    ).channel
    assert (again.name, list(again.location_codes), again.strategy) == (
        "Renamed",
        [a],
        pb.ALLOCATION_STRATEGY_SINGLE_LOCATION,
    )
    assert inventory.stub.GetChannel(pb.GetChannelRequest(channel=made.code)).channel == again


def test_list_channels_in_pages(inventory):
    for _ in range(3):
        _channel(inventory, ["default"])
    codes = _codes_in_pages(inventory.stub.ListChannels, pb.ListChannelsRequest, "channels")
    assert codes == sorted(codes) and len(codes) == len(set(codes)) >= 4


# ---------------------------------------------------------------- idempotency


def test_a_retried_create_returns_the_first_response(inventory, db):
    request_id = new_request_id()
    location = pb.Location(code=_code(), name="Once")
    first = inventory.stub.CreateLocation(pb.CreateLocationRequest(request_id=request_id, location=location))
    again = inventory.stub.CreateLocation(pb.CreateLocationRequest(request_id=request_id, location=location))
    assert again == first
    channel = pb.Channel(code=_code("ch"), name="Once", location_codes=["default"], strategy=PRIORITY)
    request = pb.CreateChannelRequest(request_id=new_request_id(), channel=channel)
    assert inventory.stub.CreateChannel(request) == inventory.stub.CreateChannel(request)
    count = db.execute("SELECT count(*) FROM channels WHERE code = %s", (channel.code,)).fetchone()
    assert count == (1,)


def test_a_retried_update_returns_the_first_response(inventory):
    made = _location(inventory, name="Before")
    request = pb.UpdateLocationRequest(
        request_id=new_request_id(),
        location=pb.Location(code=made.code, name="After"),
        update_mask=_mask("name"),
    )
    first = inventory.stub.UpdateLocation(request)
    inventory.stub.UpdateLocation(
        pb.UpdateLocationRequest(
            location=pb.Location(code=made.code, name="Later"), update_mask=_mask("name")
        )
    )
    assert inventory.stub.UpdateLocation(request) == first
    channel = _channel(inventory, ["default"])
    request_channel = pb.UpdateChannelRequest(
        request_id=new_request_id(), channel=pb.Channel(id=channel.id, name="X"), update_mask=_mask("name")
    )
    assert inventory.stub.UpdateChannel(request_channel) == inventory.stub.UpdateChannel(request_channel)


def test_a_request_id_reused_for_another_request_is_refused(inventory, db):
    request_id = new_request_id()
    _location(inventory, request_id=request_id)
    request = pb.CreateLocationRequest(request_id=request_id, location=pb.Location(code=_code(), name="n"))
    f = _refused_unchanged(
        db, inventory.stub.CreateLocation, request, grpc.StatusCode.INVALID_ARGUMENT, "request_id"
    )
    assert f.reason == "IDEMPOTENCY_KEY_REUSED"


# ---------------------------------------------------------------- refusals


def _create_channel(**fields: Any) -> pb.CreateChannelRequest:
    values: dict[str, Any] = {
        "code": _code("ch"),
        "name": "c",
        "location_codes": ["default"],
        "strategy": PRIORITY,
    }
    values.update(fields)
    return pb.CreateChannelRequest(channel=pb.Channel(**values))


ALREADY_EXISTS = grpc.StatusCode.ALREADY_EXISTS
# Each aims at `existing`: a location (w.id, w.code, w.token: page 2 of ListLocations) and a
# channel (w.channel). The field is named by a BadRequest violation or, for NOT_FOUND and
# ALREADY_EXISTS, by the ErrorInfo's metadata.
REFUSALS = [
    Case(
        "location code empty",
        "CreateLocation",
        lambda w: pb.CreateLocationRequest(location=pb.Location(name="n")),
        INVALID,
        BAD,
        "location.code",
    ),
    Case(
        "location code with space",
        "CreateLocation",
        lambda w: pb.CreateLocationRequest(location=pb.Location(code="a b", name="n")),
        INVALID,
        BAD,
        "location.code",
    ),
    Case(
        "location code too long",
        "CreateLocation",
        lambda w: pb.CreateLocationRequest(location=pb.Location(code="c" * 65, name="n")),
        INVALID,
        BAD,
        "location.code",
    ),
    Case(
        "location name blank",
        "CreateLocation",
        lambda w: pb.CreateLocationRequest(location=pb.Location(code=_code(), name=" ")),
        INVALID,
        BAD,
        "location.name",
    ),
    Case(
        "location name too long",
        "CreateLocation",
        lambda w: pb.CreateLocationRequest(location=pb.Location(code=_code(), name="n" * 201)),
        INVALID,
        BAD,
        "location.name",
    ),
    Case(
        "location bad request_id",
        "CreateLocation",
        lambda w: pb.CreateLocationRequest(request_id="a b", location=pb.Location(code=_code(), name="n")),
        INVALID,
        BAD,
        "request_id",
    ),
    Case("get location empty", "GetLocation", lambda w: pb.GetLocationRequest(), INVALID, BAD, "location"),
    Case(
        "get location bad ref",
        "GetLocation",
        lambda w: pb.GetLocationRequest(location="a\x00"),
        INVALID,
        BAD,
        "location",
    ),
    Case(
        "get location unknown",
        "GetLocation",
        lambda w: pb.GetLocationRequest(location=_code()),
        NOT_FOUND,
        "LOCATION_NOT_FOUND",
        "location",
    ),
    Case(
        "get location unknown id",
        "GetLocation",
        lambda w: pb.GetLocationRequest(location=str(uuid.uuid4())),
        NOT_FOUND,
        "LOCATION_NOT_FOUND",
        "location",
    ),
    Case(
        "list locations negative size",
        "ListLocations",
        lambda w: pb.ListLocationsRequest(page_size=-1),
        INVALID,
        BAD,
        "page_size",
    ),
    Case(
        "list locations bad token",
        "ListLocations",
        lambda w: pb.ListLocationsRequest(page_token="xyz"),
        INVALID,
        BAD,
        "page_token",
    ),
    Case(
        "update location empty mask",
        "UpdateLocation",
        lambda w: pb.UpdateLocationRequest(location=pb.Location(code=w.code, name="x")),
        INVALID,
        BAD,
        "update_mask",
    ),
    Case(
        "update location unknown path",
        "UpdateLocation",
        lambda w: pb.UpdateLocationRequest(
            location=pb.Location(code=w.code, name="x"), update_mask=_mask("name", "code")
        ),
        INVALID,
        BAD,
        "update_mask",
    ),
    Case(
        "update location star",
        "UpdateLocation",
        lambda w: pb.UpdateLocationRequest(location=pb.Location(code=w.code), update_mask=_mask("*")),
        INVALID,
        BAD,
        "update_mask",
    ),
    Case(
        "update location names none",
        "UpdateLocation",
        lambda w: pb.UpdateLocationRequest(location=pb.Location(name="x"), update_mask=_mask("name")),
        INVALID,
        BAD,
        "location",
    ),
    Case(
        "update location bad id",
        "UpdateLocation",
        lambda w: pb.UpdateLocationRequest(
            location=pb.Location(id="abc", name="x"), update_mask=_mask("name")
        ),
        INVALID,
        BAD,
        "location.id",
    ),
    Case(
        "update location blank name",
        "UpdateLocation",
        lambda w: pb.UpdateLocationRequest(
            location=pb.Location(code=w.code, name=""), update_mask=_mask("name")
        ),
        INVALID,
        BAD,
        "location.name",
    ),
    Case(
        "update location unknown code",
        "UpdateLocation",
        lambda w: pb.UpdateLocationRequest(
            location=pb.Location(code=_code(), name="x"), update_mask=_mask("name")
        ),
        NOT_FOUND,
        "LOCATION_NOT_FOUND",
        "location.code",
    ),
    Case(
        "update location unknown id",
        "UpdateLocation",
        lambda w: pb.UpdateLocationRequest(
            location=pb.Location(id=str(uuid.uuid4()), name="x"), update_mask=_mask("name")
        ),
        NOT_FOUND,
        "LOCATION_NOT_FOUND",
        "location.id",
    ),
    Case(
        "update location code of another",
        "UpdateLocation",
        lambda w: pb.UpdateLocationRequest(
            location=pb.Location(id=w.id, code="default", name="x"), update_mask=_mask("name")
        ),
        INVALID,
        BAD,
        "location.code",
    ),
    Case(
        "channel code bad",
        "CreateChannel",
        lambda w: _create_channel(code="-x"),
        INVALID,
        BAD,
        "channel.code",
    ),
    Case(
        "channel name empty",
        "CreateChannel",
        lambda w: _create_channel(name=""),
        INVALID,
        BAD,
        "channel.name",
    ),
    Case(
        "channel no locations",
        "CreateChannel",
        lambda w: _create_channel(location_codes=[]),
        INVALID,
        BAD,
        "channel.location_codes",
    ),
    Case(
        "channel bad location code",
        "CreateChannel",
        lambda w: _create_channel(location_codes=["default", "a b"]),
        INVALID,
        BAD,
        "channel.location_codes[1]",
    ),
    Case(
        "channel duplicate location",
        "CreateChannel",
        lambda w: _create_channel(location_codes=[w.code, "default", w.code]),
        INVALID,
        BAD,
        "channel.location_codes[2]",
    ),
    Case(
        "channel unknown location",
        "CreateChannel",
        lambda w: _create_channel(location_codes=["default", w.code, _code()]),
        NOT_FOUND,
        "LOCATION_NOT_FOUND",
        "channel.location_codes[2]",
    ),
    Case(
        "channel strategy unset",
        "CreateChannel",
        lambda w: _create_channel(strategy=pb.ALLOCATION_STRATEGY_UNSPECIFIED),
        INVALID,
        BAD,
        "channel.strategy",
    ),
    Case(
        "channel strategy unknown",
        "CreateChannel",
        lambda w: _create_channel(strategy=99),
        INVALID,
        BAD,
        "channel.strategy",
    ),
    Case(
        "channel duplicate code",
        "CreateChannel",
        lambda w: _create_channel(code=w.channel.code),
        ALREADY_EXISTS,
        "CHANNEL_ALREADY_EXISTS",
        "code",
    ),
    Case("get channel empty", "GetChannel", lambda w: pb.GetChannelRequest(), INVALID, BAD, "channel"),
    Case(
        "get channel unknown",
        "GetChannel",
        lambda w: pb.GetChannelRequest(channel=_code()),
        NOT_FOUND,
        "CHANNEL_NOT_FOUND",
        "channel",
    ),
    Case(
        "list channels token of locations",
        "ListChannels",
        lambda w: pb.ListChannelsRequest(page_token=w.token),
        INVALID,
        BAD,
        "page_token",
    ),
    Case(
        "update channel empty mask",
        "UpdateChannel",
        lambda w: pb.UpdateChannelRequest(channel=pb.Channel(code=w.channel.code, name="x")),
        INVALID,
        BAD,
        "update_mask",
    ),
    Case(
        "update channel unknown path",
        "UpdateChannel",
        lambda w: pb.UpdateChannelRequest(
            channel=pb.Channel(code=w.channel.code), update_mask=_mask("active")
        ),
        INVALID,
        BAD,
        "update_mask",
    ),
    Case(
        "update channel strategy unset",
        "UpdateChannel",
        lambda w: pb.UpdateChannelRequest(
            channel=pb.Channel(code=w.channel.code), update_mask=_mask("strategy")
        ),
        INVALID,
        BAD,
        "channel.strategy",
    ),
    Case(
        "update channel no locations",
        "UpdateChannel",
        lambda w: pb.UpdateChannelRequest(
            channel=pb.Channel(code=w.channel.code), update_mask=_mask("location_codes")
        ),
        INVALID,
        BAD,
        "channel.location_codes",
    ),
    Case(
        "update channel duplicate location",
        "UpdateChannel",
        lambda w: pb.UpdateChannelRequest(
            channel=pb.Channel(code=w.channel.code, location_codes=["default", "default"]),
            update_mask=_mask("location_codes"),
        ),
        INVALID,
        BAD,
        "channel.location_codes[1]",
    ),
    Case(
        "update channel unknown location",
        "UpdateChannel",
        lambda w: pb.UpdateChannelRequest(
            channel=pb.Channel(code=w.channel.code, location_codes=[_code()]),
            update_mask=_mask("location_codes"),
        ),
        NOT_FOUND,
        "LOCATION_NOT_FOUND",
        "channel.location_codes[0]",
    ),
    Case(
        "update channel unknown",
        "UpdateChannel",
        lambda w: pb.UpdateChannelRequest(
            channel=pb.Channel(code=_code(), name="x"), update_mask=_mask("name")
        ),
        NOT_FOUND,
        "CHANNEL_NOT_FOUND",
        "channel.code",
    ),
    Case(
        "update channel unknown id",
        "UpdateChannel",
        lambda w: pb.UpdateChannelRequest(
            channel=pb.Channel(id=str(uuid.uuid4()), name="x"), update_mask=_mask("name")
        ),
        NOT_FOUND,
        "CHANNEL_NOT_FOUND",
        "channel.id",
    ),
    Case(
        "update channel code of another",
        "UpdateChannel",
        lambda w: pb.UpdateChannelRequest(
            channel=pb.Channel(id=w.channel.id, code="default", name="x"), update_mask=_mask("name")
        ),
        INVALID,
        BAD,
        "channel.code",
    ),
]


class _Existing:
    """A location (with a ListLocations page token) and a channel for the refusals to aim at."""

    def __init__(self, inventory) -> None:
        location = _location(inventory)
        self.id, self.code = location.id, location.code
        self.token = inventory.stub.ListLocations(pb.ListLocationsRequest(page_size=1)).next_page_token
        self.channel = _channel(inventory, [self.code])


@pytest.fixture(scope="module")
def existing(inventory) -> _Existing:
    return _Existing(inventory)


@pytest.mark.parametrize("case", REFUSALS, ids=[c.id for c in REFUSALS])
def test_bad_requests_are_refused_naming_the_field_and_write_nothing(inventory, db, existing, case: Case):
    f = _refused_unchanged(
        db, getattr(inventory.stub, case.method), case.build(existing), case.code, case.field
    )
    assert f.reason == case.reason, f.message
    channel = inventory.stub.GetChannel(pb.GetChannelRequest(channel=existing.channel.id)).channel
    assert channel == existing.channel


def test_a_refused_update_with_a_request_id_can_be_retried_once_fixed(inventory):
    made = _location(inventory)
    request_id = new_request_id()
    bad = pb.UpdateChannelRequest(
        request_id=request_id,
        channel=pb.Channel(code=_channel(inventory, ["default"]).code, location_codes=[_code()]),
        update_mask=_mask("location_codes"),
    )
    assert refusal(inventory.stub.UpdateChannel, bad).code == NOT_FOUND
    bad.channel.location_codes[:] = [made.code]
    assert list(inventory.stub.UpdateChannel(bad).channel.location_codes) == [made.code]


# ---------------------------------------------------------------- resolvers


def test_resolvers_name_codes_strategies_and_active_locations_in_order(inventory, database_url):
    a, b = _location(inventory).code, _location(inventory).code
    closed = _location(inventory, create_inactive=True)
    channel = _channel(inventory, [b, closed.code, a], strategy=pb.ALLOCATION_STRATEGY_FEWEST_LOCATIONS)
    unknown = _code()

    async def resolve() -> tuple[dict[str, ChannelRoute], dict[str, LocationRef]]:
        async with await psycopg.AsyncConnection.connect(database_url, row_factory=dict_row) as conn:
            channels = await resolve_channels(conn, ["", channel.code, channel.id, unknown])
            locations = await resolve_locations(conn, [a, closed.id, unknown])
            return channels, locations

    channels, locations = asyncio.run(resolve())
    route = ChannelRoute(channel.code, AllocationStrategy.FEWEST_LOCATIONS, (b, a))
    assert channels == {
        "": ChannelRoute("default", AllocationStrategy.PRIORITY, ("default",)),
        channel.code: route,
        channel.id: route,
    }
    assert locations == {a: LocationRef(a, True), closed.id: LocationRef(closed.code, False)}

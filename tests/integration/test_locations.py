"""Stock per location, through the API: holds allocated over a channel's locations by each
strategy, pinned lines, deactivated locations, transfers, and the same under concurrency (real
PostgreSQL; every module's database must pass the audit when it ends)."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import grpc
import pytest
from google.protobuf import duration_pb2, field_mask_pb2
from holdfast.inventory.v1 import inventory_pb2 as pb

from sweeper.database import LazyPool
from sweeper.expiry import sweep
from tests.conftest import make_settings
from tests.support.builders import new_request_id
from tests.support.grpc_helpers import failure, refusal

STRATEGIES = {
    "PRIORITY": pb.ALLOCATION_STRATEGY_PRIORITY,
    "MOST_AVAILABLE": pb.ALLOCATION_STRATEGY_MOST_AVAILABLE,
    "FEWEST_LOCATIONS": pb.ALLOCATION_STRATEGY_FEWEST_LOCATIONS,
    "SINGLE_LOCATION": pb.ALLOCATION_STRATEGY_SINGLE_LOCATION,
}


def code(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Shop:
    """Locations, a channel over them and stock per location, made through the API."""

    def __init__(self, inventory, locations: int, strategy: str = "PRIORITY") -> None:
        self.inventory = inventory
        self.stub = inventory.stub
        self.locations = [self.location(f"loc{i}") for i in range(locations)]
        self.channel = self.make_channel(self.locations, strategy)

    def location(self, prefix: str) -> str:
        made = self.stub.CreateLocation(
            pb.CreateLocationRequest(location=pb.Location(code=code(prefix), name=prefix))
        ).location
        return made.code

    def make_channel(self, locations: list[str], strategy: str) -> str:
        channel = pb.Channel(
            code=code("chan"), name="channel", location_codes=locations, strategy=STRATEGIES[strategy]
        )
        return self.stub.CreateChannel(pb.CreateChannelRequest(channel=channel)).channel.code

    def sku(self, *units: int) -> str:
        """A SKU with `units[i]` on hand at location i (none at `default`)."""
        sku = self.inventory.client.sku(on_hand=0)
        for location, n in zip(self.locations, units, strict=True):
            self.receive(sku, location, n)
        return sku

    def receive(self, sku: str, location: str, units: int) -> None:
        if units:
            self.stub.AdjustStock(
                pb.AdjustStockRequest(
                    request_id=new_request_id(),
                    sku=sku,
                    delta=units,
                    reason=pb.ADJUSTMENT_REASON_RECEIVE,
                    location=location,
                )
            )

    def hold_request(self, lines: dict[str, int], *, pins: dict[str, str] | None = None, **fields):
        pins = pins or {}
        return pb.CreateHoldRequest(
            request_id=new_request_id(),
            owner_id="shopper",
            channel=fields.pop("channel", self.channel),
            lines=[pb.HoldLine(sku=s, quantity=q, location=pins.get(s, "")) for s, q in lines.items()],
            **fields,
        )

    def hold(self, lines: dict[str, int], **fields) -> pb.Hold:
        return self.stub.CreateHold(self.hold_request(lines, **fields)).hold

    def at(self, sku: str) -> dict[str, tuple[int, int]]:
        """(on_hand, reserved) per location of the shop."""
        levels = self.stub.BatchGetStockLevels(pb.BatchGetStockLevelsRequest(skus=[sku])).location_levels
        return {x.location: (x.on_hand, x.reserved) for x in levels if x.location in self.locations}

    def names(self, hold: pb.Hold) -> dict[str, list[tuple[str, int]]]:
        """Each line's allocations with the shop's locations named loc0, loc1, ..."""
        index = {location: f"loc{i}" for i, location in enumerate(self.locations)}
        return {line.sku: [(index[a.location], a.quantity) for a in line.allocations] for line in hold.lines}


# (strategy, stock of each SKU at loc0..loc2, the cart, the allocations expected per SKU)
ALLOCATIONS = [
    ("PRIORITY", {"A": (2, 5, 9)}, {"A": 6}, {"A": [("loc0", 2), ("loc1", 4)]}),
    ("PRIORITY", {"A": (0, 5, 9)}, {"A": 5}, {"A": [("loc1", 5)]}),
    ("MOST_AVAILABLE", {"A": (2, 5, 9)}, {"A": 6}, {"A": [("loc2", 6)]}),
    ("MOST_AVAILABLE", {"A": (2, 5, 4)}, {"A": 7}, {"A": [("loc1", 5), ("loc2", 2)]}),
    ("FEWEST_LOCATIONS", {"A": (3, 5, 2), "B": (0, 4, 4)}, {"A": 2, "B": 4},
     {"A": [("loc1", 2)], "B": [("loc1", 4)]}),
    ("FEWEST_LOCATIONS", {"A": (3, 0, 3), "B": (0, 3, 3)}, {"A": 3, "B": 3},
     {"A": [("loc2", 3)], "B": [("loc2", 3)]}),
    ("SINGLE_LOCATION", {"A": (5, 5, 5), "B": (0, 1, 1)}, {"A": 2, "B": 1},
     {"A": [("loc1", 2)], "B": [("loc1", 1)]}),
]  # fmt: skip


@pytest.mark.parametrize(("strategy", "stock", "cart", "expected"), ALLOCATIONS)
def test_each_strategy_allocates_exactly_as_documented(inventory, strategy, stock, cart, expected):
    shop = Shop(inventory, 3, strategy)
    skus = {name: shop.sku(*units) for name, units in stock.items()}
    hold = shop.hold({skus[name]: n for name, n in cart.items()})
    by_name = {name: shop.names(hold)[sku] for name, sku in skus.items() if name in cart}
    assert by_name == expected
    assert pb.AllocationStrategy.Name(hold.strategy) == f"ALLOCATION_STRATEGY_{strategy}"
    assert hold.channel == shop.channel
    for name, sku in skus.items():
        reserved = {loc: r for loc, (_, r) in shop.at(sku).items()}
        held = dict.fromkeys(shop.locations, 0)
        for index, n in by_name.get(name, []):
            held[shop.locations[int(index[3:])]] += n
        assert {loc: reserved.get(loc, 0) for loc in shop.locations} == held


def test_the_request_can_override_the_channels_strategy(inventory):
    shop = Shop(inventory, 3, "PRIORITY")
    sku = shop.sku(2, 5, 9)
    hold = shop.hold({sku: 6}, strategy=pb.ALLOCATION_STRATEGY_MOST_AVAILABLE)
    assert shop.names(hold)[sku] == [("loc2", 6)]
    assert hold.strategy == pb.ALLOCATION_STRATEGY_MOST_AVAILABLE


def test_a_short_cart_is_refused_naming_what_the_channel_could_offer_and_holds_nothing(inventory):
    shop = Shop(inventory, 2)
    a, b = shop.sku(1, 1), shop.sku(3, 0)
    # A third location outside the channel has plenty: the channel cannot sell it.
    outside = shop.location("outside")
    shop.receive(a, outside, 100)
    refused = refusal(shop.stub.CreateHold, shop.hold_request({a: 3, b: 4}))
    assert refused.code == grpc.StatusCode.FAILED_PRECONDITION
    assert refused.reason == "INSUFFICIENT_STOCK"
    assert refused.metadata["skus"] == ",".join(sorted([a, b]))
    assert sorted(refused.precondition_violations) == sorted(
        [("STOCK", a, "requested 3, available 2"), ("STOCK", b, "requested 4, available 3")]
    )
    assert shop.at(a)[shop.locations[0]] == (1, 0) and shop.at(b)[shop.locations[0]] == (3, 0)


def test_single_location_says_no_single_location_can_fill_the_cart(inventory):
    shop = Shop(inventory, 2, "SINGLE_LOCATION")
    a, b = shop.sku(2, 0), shop.sku(0, 2)
    refused = refusal(shop.stub.CreateHold, shop.hold_request({a: 1, b: 1}))
    assert (refused.code, refused.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "INSUFFICIENT_STOCK")
    assert refused.metadata["strategy"] == "SINGLE_LOCATION"
    assert "single location" in refused.message


def test_a_pinned_line_is_refused_when_its_location_is_short_even_if_others_have_stock(inventory):
    shop = Shop(inventory, 2)
    sku = shop.sku(1, 50)
    refused = refusal(shop.stub.CreateHold, shop.hold_request({sku: 2}, pins={sku: shop.locations[0]}))
    assert (refused.reason, refused.metadata["available"]) == ("INSUFFICIENT_STOCK", "1")
    hold = shop.hold({sku: 1}, pins={sku: shop.locations[0]})
    assert hold.lines[0].location == shop.locations[0]
    assert shop.names(hold)[sku] == [("loc0", 1)]


def test_a_click_and_collect_line_may_pin_a_store_the_channel_does_not_ship_from(inventory):
    shop = Shop(inventory, 1)
    store = shop.location("store")
    sku = shop.sku(10)
    shop.receive(sku, store, 3)
    other = shop.sku(10)
    hold = shop.hold({sku: 3, other: 1}, pins={sku: store})
    lines = {line.sku: line for line in hold.lines}
    assert [(a.location, a.quantity) for a in lines[sku].allocations] == [(store, 3)]
    assert [(a.location, a.quantity) for a in lines[other].allocations] == [(shop.locations[0], 1)]


def test_bad_places_are_refused_naming_the_field_and_writing_nothing(inventory):
    shop = Shop(inventory, 1)
    sku = shop.sku(5)
    unknown = refusal(shop.stub.CreateHold, shop.hold_request({sku: 1}, channel="no-such-channel"))
    assert (unknown.code, unknown.metadata) == (grpc.StatusCode.NOT_FOUND, {"channel": "no-such-channel"})
    pin = refusal(shop.stub.CreateHold, shop.hold_request({sku: 1}, pins={sku: "nowhere"}))
    assert (pin.code, pin.metadata) == (grpc.StatusCode.NOT_FOUND, {"lines[0].location": "nowhere"})
    twice = refusal(
        shop.stub.CreateHold,
        pb.CreateHoldRequest(
            request_id=new_request_id(),
            owner_id="x",
            lines=[
                pb.HoldLine(sku=sku, quantity=1, location=shop.locations[0]),
                pb.HoldLine(sku=sku, quantity=1),
            ],
        ),
    )
    assert (
        twice.code == grpc.StatusCode.INVALID_ARGUMENT and twice.field_violations[0][0] == "lines[1].location"
    )
    move = pb.TransferStockRequest(
        request_id=new_request_id(),
        sku=sku,
        from_location=shop.locations[0],
        to_location=shop.locations[0],
        quantity=1,
    )
    same = refusal(shop.stub.TransferStock, move)
    assert same.code == grpc.StatusCode.INVALID_ARGUMENT and same.field_violations[0][0] == "to_location"
    assert shop.at(sku) == {shop.locations[0]: (5, 0)}


def test_a_deactivated_location_gives_no_new_allocations_and_its_holds_still_commit(inventory):
    shop = Shop(inventory, 2)
    sku = shop.sku(5, 5)
    first = shop.hold({sku: 2})
    assert shop.names(first)[sku] == [("loc0", 2)]
    deactivate = pb.UpdateLocationRequest(
        location=pb.Location(code=shop.locations[0], active=False),
        update_mask=field_mask_pb2.FieldMask(paths=["active"]),
    )
    shop.stub.UpdateLocation(deactivate)
    second = shop.hold({sku: 4})
    assert shop.names(second)[sku] == [("loc1", 4)]
    refused = refusal(shop.stub.CreateHold, shop.hold_request({sku: 2}))
    assert refused.metadata["available"] == "1"  # loc0's 3 left are not for sale
    pinned = refusal(shop.stub.CreateHold, shop.hold_request({sku: 1}, pins={sku: shop.locations[0]}))
    assert pinned.code == grpc.StatusCode.INVALID_ARGUMENT
    shop.stub.CommitHold(pb.CommitHoldRequest(request_id=new_request_id(), hold_id=first.id))
    assert shop.at(sku) == {shop.locations[0]: (3, 0), shop.locations[1]: (5, 4)}
    # Its stock can still be counted and moved out.
    shop.receive(sku, shop.locations[0], 1)
    moved = shop.stub.TransferStock(
        pb.TransferStockRequest(
            request_id=new_request_id(),
            sku=sku,
            from_location=shop.locations[0],
            to_location=shop.locations[1],
            quantity=4,
        )
    )
    assert (moved.from_level.on_hand, moved.to_level.on_hand) == (0, 9)


def test_release_and_commit_act_on_exactly_the_allocations_with_one_ledger_row_each(inventory, db):
    shop = Shop(inventory, 3)
    sku = shop.sku(1, 1, 5)
    released = shop.hold({sku: 3})
    committed = shop.hold({sku: 2})
    assert shop.names(released)[sku] == [("loc0", 1), ("loc1", 1), ("loc2", 1)]
    assert shop.names(committed)[sku] == [("loc2", 2)]
    shop.stub.ReleaseHold(pb.ReleaseHoldRequest(request_id=new_request_id(), hold_id=released.id))
    shop.stub.CommitHold(pb.CommitHoldRequest(request_id=new_request_id(), hold_id=committed.id))
    loc = shop.locations
    assert shop.at(sku) == {loc[0]: (1, 0), loc[1]: (1, 0), loc[2]: (3, 0)}
    rows = db.execute(
        "SELECT hold_id::text, reason, location, delta_on_hand, delta_reserved FROM stock_ledger "
        "WHERE hold_id = ANY(%s::uuid[])",
        ([released.id, committed.id],),
    ).fetchall()
    assert sorted(rows) == sorted(
        [(released.id, "HOLD", x, 0, 1) for x in loc]
        + [(released.id, "RELEASE", x, 0, -1) for x in loc]
        + [(committed.id, "HOLD", loc[2], 0, 2), (committed.id, "COMMIT", loc[2], -2, -2)]
    )


def test_a_retry_returns_the_same_allocations(inventory):
    shop = Shop(inventory, 2, "MOST_AVAILABLE")
    sku = shop.sku(3, 4)
    request = shop.hold_request({sku: 2})
    first = shop.stub.CreateHold(request).hold
    shop.receive(sku, shop.locations[0], 10)  # the strategy would now choose loc0
    again = shop.stub.CreateHold(request).hold
    assert again == first
    assert shop.names(again)[sku] == [("loc1", 2)]


def test_levels_per_location_and_a_channels_total_over_its_active_locations(inventory):
    shop = Shop(inventory, 2)
    sku = shop.sku(4, 6)
    shop.hold({sku: 5})
    response = shop.stub.BatchGetStockLevels(pb.BatchGetStockLevelsRequest(skus=[sku], channel=shop.channel))
    (total,) = response.levels
    assert (total.on_hand, total.reserved, total.available, total.location) == (10, 5, 5, "")
    mine = [
        (x.location, x.on_hand, x.reserved) for x in response.location_levels if x.location in shop.locations
    ]
    assert mine == sorted([(shop.locations[0], 4, 4), (shop.locations[1], 6, 1)])
    # The default channel sells from `default` only, where this SKU has nothing.
    (default_total,) = shop.stub.BatchGetStockLevels(pb.BatchGetStockLevelsRequest(skus=[sku])).levels
    assert (default_total.on_hand, default_total.available) == (0, 0)


def test_a_flash_sale_over_three_locations_sells_exactly_the_stock(inventory):
    shop = Shop(inventory, 3)
    sku = shop.sku(20, 20, 10)
    requests = [shop.hold_request({sku: 1}) for _ in range(500)]
    outcomes: Counter[str] = Counter()

    def buy(request: pb.CreateHoldRequest) -> None:
        try:
            shop.stub.CreateHold(request, timeout=60)
            outcomes["held"] += 1
        except grpc.RpcError as error:
            outcomes[failure(error).reason] += 1

    with ThreadPoolExecutor(max_workers=64) as pool:
        list(pool.map(buy, requests))
    assert outcomes == {"held": 50, "INSUFFICIENT_STOCK": 450}
    assert shop.at(sku) == {loc: (n, n) for loc, n in zip(shop.locations, (20, 20, 10), strict=True)}


def test_carts_over_overlapping_rows_in_opposite_orders_never_deadlock(inventory):
    shop = Shop(inventory, 3, "MOST_AVAILABLE")
    skus = [shop.sku(40, 40, 40) for _ in range(5)]
    errors: list[str] = []
    held: list[pb.Hold] = []
    lock = threading.Lock()

    def cart(n: int) -> None:
        order = skus if n % 2 else list(reversed(skus))
        request = pb.CreateHoldRequest(
            request_id=new_request_id(),
            owner_id=f"cart-{n}",
            channel=shop.channel,
            lines=[pb.HoldLine(sku=s, quantity=1 + (i + n) % 2) for i, s in enumerate(order)],
        )
        try:
            hold = shop.stub.CreateHold(request, timeout=60).hold
            release = pb.ReleaseHoldRequest(request_id=new_request_id(), hold_id=hold.id)
            if n % 3 == 0:
                shop.stub.ReleaseHold(release, timeout=60)
            with lock:
                held.append(hold)
        except grpc.RpcError as error:
            with lock:
                errors.append(f"{error.code()} {failure(error).reason}")

    with ThreadPoolExecutor(max_workers=32) as pool:
        list(pool.map(cart, range(120)))
    assert not [e for e in errors if "INSUFFICIENT_STOCK" not in e], errors
    assert held


def test_transfers_racing_holds_never_make_available_negative_anywhere(inventory, db):
    shop = Shop(inventory, 2)
    sku = shop.sku(30, 0)
    stop = time.monotonic() + 3
    moved = Counter[str]()

    def shuffle(direction: int) -> None:
        source, target = shop.locations[direction], shop.locations[1 - direction]
        while time.monotonic() < stop:
            move = pb.TransferStockRequest(
                request_id=new_request_id(), sku=sku, from_location=source, to_location=target, quantity=3
            )
            try:
                shop.stub.TransferStock(move, timeout=30)
                moved[source] += 3
            except grpc.RpcError as error:
                assert failure(error).reason == "INSUFFICIENT_STOCK", failure(error)

    def buy() -> None:
        while time.monotonic() < stop:
            try:
                shop.stub.CreateHold(shop.hold_request({sku: 1}), timeout=30)
            except grpc.RpcError as error:
                assert failure(error).reason == "INSUFFICIENT_STOCK", failure(error)

    threads = [threading.Thread(target=shuffle, args=(d,)) for d in (0, 1)] + [
        threading.Thread(target=buy) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert moved, "no transfer went through"
    levels = shop.at(sku)
    assert all(0 <= reserved <= on_hand for on_hand, reserved in levels.values()), levels
    assert sum(on_hand for on_hand, _ in levels.values()) == 30


def test_the_sweeper_expires_multi_location_holds_once_giving_each_location_its_units_back(
    inventory, database_url, db
):
    shop = Shop(inventory, 3)
    sku = shop.sku(2, 2, 20)
    # The first spans all three locations.
    short_lived = [shop.hold({sku: n}, ttl=duration_pb2.Duration(seconds=1)) for n in (5, 3, 3, 3)]
    assert len(shop.names(short_lived[0])[sku]) == 3
    lazy = LazyPool(make_settings(database_url, db_lock_timeout_ms=500).database)
    try:
        time.sleep(1.2)
        with ThreadPoolExecutor(max_workers=2) as pool:
            runs = list(
                pool.map(
                    lambda _: sweep(lazy.get(), batch_size=2, time_budget=30, retention=timedelta(hours=24)),
                    range(2),
                )
            )
    finally:
        lazy.close()
    assert sum(run.expired for run in runs) == 4
    assert shop.at(sku) == {loc: (n, 0) for loc, n in zip(shop.locations, (2, 2, 20), strict=True)}
    expired = db.execute(
        "SELECT count(*) FROM stock_ledger WHERE reason = 'EXPIRE' AND hold_id = ANY(%s::uuid[])",
        ([h.id for h in short_lived],),
    ).fetchone()
    allocations = sum(len(line.allocations) for h in short_lived for line in h.lines)
    assert expired == (allocations,)


def test_a_refused_transfer_or_adjustment_at_a_new_location_leaves_no_row_there(inventory):
    shop = Shop(inventory, 2)
    sku = shop.sku(2, 0)
    fresh = shop.location("fresh")
    too_many = pb.TransferStockRequest(
        request_id=new_request_id(), sku=sku, from_location=shop.locations[0], to_location=fresh, quantity=3
    )
    assert refusal(shop.stub.TransferStock, too_many).reason == "INSUFFICIENT_STOCK"
    below = pb.AdjustStockRequest(
        request_id=new_request_id(), sku=sku, delta=-1, reason=pb.ADJUSTMENT_REASON_ADJUST, location=fresh
    )
    assert refusal(shop.stub.AdjustStock, below).reason == "ON_HAND_BELOW_RESERVED"
    levels = shop.stub.BatchGetStockLevels(pb.BatchGetStockLevelsRequest(skus=[sku])).location_levels
    assert fresh not in {x.location for x in levels}
    moved = shop.stub.TransferStock(
        pb.TransferStockRequest(
            request_id=new_request_id(),
            sku=sku,
            from_location=shop.locations[0],
            to_location=fresh,
            quantity=2,
        )
    )
    assert (moved.from_level.on_hand, moved.to_level.on_hand, moved.to_level.location) == (0, 2, fresh)

"""inventory_svc.allocation.allocate_beyond: a cart that available stock cannot fill takes
every unit stock gives, then sells the rest beyond stock where a location's policy leaves room;
and InventoryPolicy.allows, the preorder window half-open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from holdfast_common.errors import HoldfastError
from inventory_svc.allocation import Allocation, CartLine, Room, Strategy, allocate_beyond, take
from inventory_svc.models import InventoryPolicy, PolicyKind

BACK = PolicyKind.BACKORDER
PRE = PolicyKind.PREORDER


def test_stock_first_then_the_room_in_priority_order():
    available = {("A", "w1"): 2, ("A", "w2"): 1}
    room = {("A", "w1"): Room(BACK, 1), ("A", "w2"): Room(PRE, 5)}
    got = allocate_beyond([CartLine("A", 6)], ["w1", "w2"], available, room, Strategy.PRIORITY)
    assert got == (Allocation("A", "w1", 2, backordered=1), Allocation("A", "w2", 1, preordered=2))
    take(available, got, room)
    assert available == {("A", "w1"): 0, ("A", "w2"): 0}
    assert (room["A", "w1"].units, room["A", "w2"].units) == (0, 3)


def test_lines_stock_can_fill_keep_the_strategy_and_a_short_cart_is_refused_whole():
    available = {("A", "w1"): 5, ("B", "w1"): 0}
    room = {("B", "w1"): Room(BACK, 2)}
    got = allocate_beyond(
        [CartLine("A", 3), CartLine("B", 2)], ["w1"], available, room, Strategy.MOST_AVAILABLE
    )
    assert got == (Allocation("A", "w1", 3), Allocation("B", "w1", 0, backordered=2))
    with pytest.raises(HoldfastError) as refused:
        allocate_beyond([CartLine("A", 3), CartLine("B", 3)], ["w1"], available, room, Strategy.PRIORITY)
    assert refused.value.reason == "INSUFFICIENT_STOCK"
    assert refused.value.metadata["sku"] == "B"


def test_a_pinned_line_sells_beyond_stock_only_at_its_pin():
    available = {("A", "w1"): 0, ("A", "w2"): 0}
    room = {("A", "w1"): Room(BACK, 9)}
    with pytest.raises(HoldfastError):
        allocate_beyond([CartLine("A", 1, "w2")], ["w1", "w2"], available, room, Strategy.PRIORITY)
    got = allocate_beyond([CartLine("A", 1, "w1")], ["w2"], available, room, Strategy.PRIORITY)
    assert got == (Allocation("A", "w1", 0, backordered=1),)


def test_single_location_needs_one_location_with_stock_and_room_for_the_whole_cart():
    available = {("A", "w1"): 1, ("B", "w1"): 0, ("A", "w2"): 0, ("B", "w2"): 0}
    room = {
        ("A", "w1"): Room(BACK, 1),
        ("B", "w1"): Room(BACK, 0),
        ("A", "w2"): Room(BACK, 2),
        ("B", "w2"): Room(BACK, 1),
    }
    got = allocate_beyond(
        [CartLine("A", 2), CartLine("B", 1)], ["w1", "w2"], available, room, Strategy.SINGLE_LOCATION
    )
    assert got == (Allocation("A", "w2", 0, backordered=2), Allocation("B", "w2", 0, backordered=1))


def test_a_batch_never_goes_past_the_cap():
    available = {("A", "w1"): 10}
    room = {("A", "w1"): Room(BACK, 20)}
    held = 0
    for _ in range(500):
        try:
            got = allocate_beyond([CartLine("A", 1)], ["w1"], available, room, Strategy.PRIORITY)
        except HoldfastError:
            continue
        take(available, got, room)
        held += 1
    assert (held, available["A", "w1"], room["A", "w1"].units) == (30, 0, 0)


def test_the_preorder_window_is_half_open():
    end = datetime(2026, 6, 1, tzinfo=UTC)
    policy = InventoryPolicy("A", None, PRE, preorder_limit=5, preorder_end_time=end)
    assert policy.allows(end - timedelta(microseconds=1)) == (PRE, 5)
    assert policy.allows(end) is None
    assert InventoryPolicy("A", None, PolicyKind.DENY).allows(end) is None
    assert InventoryPolicy("A", None, BACK, backorder_limit=3).allows(end) == (BACK, 3)

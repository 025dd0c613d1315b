"""AdjustStock and BatchGetStockLevels: levels, the ledger, idempotency and overdue holds."""

from __future__ import annotations

import time

import grpc
import pytest
from holdfast.inventory.v1 import inventory_pb2 as pb

from tests.support.grpc_helpers import new_request_id, refusal, unique_sku

RECEIVE = pb.ADJUSTMENT_REASON_RECEIVE
ADJUST = pb.ADJUSTMENT_REASON_ADJUST


def _adjust(inventory, sku: str, delta: int, reason=ADJUST, request_id: str | None = None, note: str = ""):
    return inventory.stub.AdjustStock(
        pb.AdjustStockRequest(
            request_id=request_id or new_request_id(), sku=sku, delta=delta, reason=reason, note=note
        )
    ).stock_level


def _ledger(db, sku: str) -> list[tuple]:
    return db.execute(
        "SELECT reason, delta_on_hand, delta_reserved, request_id, note, hold_id::text"
        " FROM stock_ledger WHERE sku = %s ORDER BY id",
        (sku,),
    ).fetchall()


def _stock_row(db, sku: str) -> tuple[int, int]:
    return db.execute("SELECT on_hand, reserved FROM stock WHERE sku = %s", (sku,)).fetchone()


def _key_count(db, request_id: str) -> int:
    return db.execute(
        "SELECT count(*) FROM idempotency_keys WHERE request_id = %s", (request_id,)
    ).fetchone()[0]


def test_receive_adds_to_on_hand_and_writes_a_ledger_row(inventory, db):
    sku = inventory.client.sku(on_hand=10)
    rid = new_request_id()
    level = _adjust(inventory, sku, 5, RECEIVE, request_id=rid, note="pallet 7")
    assert level == pb.StockLevel(sku=sku, on_hand=15, reserved=0, available=15, location="default")
    assert inventory.client.level(sku) == pb.StockLevel(sku=sku, on_hand=15, reserved=0, available=15)
    assert _ledger(db, sku) == [
        ("RECEIVE", 10, 0, None, "initial stock", None),
        ("RECEIVE", 5, 0, rid, "pallet 7", None),
    ]


def test_adjust_moves_on_hand_either_way(inventory, db):
    sku = inventory.client.sku(on_hand=10)
    inventory.client.hold({sku: 4})
    up = _adjust(inventory, sku, 3, note="found in back room")
    assert (up.on_hand, up.reserved, up.available) == (13, 4, 9)
    # Down to exactly the reserved units is allowed.
    down_rid = new_request_id()
    down = _adjust(inventory, sku, -9, request_id=down_rid, note="water damage")
    assert (down.on_hand, down.reserved, down.available) == (4, 4, 0)
    assert _stock_row(db, sku) == (4, 4)
    reasons = [(r[0], r[1], r[2], r[3]) for r in _ledger(db, sku)]
    assert reasons[-2][:3] == ("ADJUST", 3, 0)
    assert reasons[-1] == ("ADJUST", -9, 0, down_rid)


def test_on_hand_below_reserved_is_refused_and_writes_nothing(inventory, db):
    sku = inventory.client.sku(on_hand=5)
    hold = inventory.client.hold({sku: 3})
    ledger_before = _ledger(db, sku)
    rid = new_request_id()
    f = refusal(
        inventory.stub.AdjustStock,
        pb.AdjustStockRequest(request_id=rid, sku=sku, delta=-3, reason=ADJUST),
    )
    assert f.code == grpc.StatusCode.FAILED_PRECONDITION
    assert f.reason == "ON_HAND_BELOW_RESERVED"
    assert f.metadata["sku"] == sku
    assert (f.metadata["on_hand"], f.metadata["reserved"]) == ("5", "3")
    assert _ledger(db, sku) == ledger_before
    assert _stock_row(db, sku) == (5, 3)
    assert _key_count(db, rid) == 0, "a refused request must not consume its request_id"

    # Once the hold is gone, the very same request goes through.
    inventory.stub.ReleaseHold(pb.ReleaseHoldRequest(request_id=new_request_id(), hold_id=hold.id))
    level = inventory.stub.AdjustStock(
        pb.AdjustStockRequest(request_id=rid, sku=sku, delta=-3, reason=ADJUST)
    ).stock_level
    assert (level.on_hand, level.reserved) == (2, 0)


def test_adjust_unknown_sku_is_not_found(inventory, db):
    sku = unique_sku()
    rid = new_request_id()
    f = refusal(
        inventory.stub.AdjustStock, pb.AdjustStockRequest(request_id=rid, sku=sku, delta=1, reason=RECEIVE)
    )
    assert f.code == grpc.StatusCode.NOT_FOUND
    assert f.reason == "SKU_NOT_FOUND"
    assert f.metadata["sku"] == sku
    assert _key_count(db, rid) == 0


def test_retry_with_same_request_id_returns_first_response_and_applies_once(inventory, db):
    sku = inventory.client.sku(on_hand=10)
    rid = new_request_id()
    first = _adjust(inventory, sku, 5, RECEIVE, request_id=rid)
    assert first.on_hand == 15
    _adjust(inventory, sku, 1, RECEIVE)  # something else changes the level in between
    again = _adjust(inventory, sku, 5, RECEIVE, request_id=rid)
    assert again == first, "a retry must answer exactly what the first call answered"
    assert inventory.client.level(sku).on_hand == 16
    assert db.execute("SELECT count(*) FROM stock_ledger WHERE request_id = %s", (rid,)).fetchone()[0] == 1
    assert _key_count(db, rid) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"delta": 6},
        {"reason": ADJUST},
        {"note": "different note"},
        {"sku": "other"},
    ],
)
def test_same_request_id_with_different_payload_is_refused(inventory, db, change):
    sku = inventory.client.sku(on_hand=10)
    rid = new_request_id()
    _adjust(inventory, sku, 5, RECEIVE, request_id=rid, note="n")
    request = pb.AdjustStockRequest(request_id=rid, sku=sku, delta=5, reason=RECEIVE, note="n")
    if change.get("sku") == "other":
        change = {"sku": inventory.client.sku(on_hand=1)}
    for field, value in change.items():
        setattr(request, field, value)
    ledger_count = db.execute("SELECT count(*) FROM stock_ledger").fetchone()[0]
    f = refusal(inventory.stub.AdjustStock, request)
    assert f.code == grpc.StatusCode.INVALID_ARGUMENT
    assert f.reason == "IDEMPOTENCY_KEY_REUSED"
    assert f.metadata.get("request_id") == rid
    assert db.execute("SELECT count(*) FROM stock_ledger").fetchone()[0] == ledger_count
    assert inventory.client.level(sku).on_hand == 15


def test_request_id_of_another_method_is_refused(inventory, db):
    sku = inventory.client.sku(on_hand=10)
    rid = new_request_id()
    _adjust(inventory, sku, 1, RECEIVE, request_id=rid)
    f = refusal(
        inventory.stub.CreateHold,
        pb.CreateHoldRequest(request_id=rid, owner_id="o", lines=[pb.HoldLine(sku=sku, quantity=1)]),
    )
    assert (f.code, f.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "IDEMPOTENCY_KEY_REUSED")
    assert inventory.client.level(sku).reserved == 0


def test_batch_get_stock_levels_keeps_request_order(inventory):
    a = inventory.client.sku(on_hand=1)
    b = inventory.client.sku(on_hand=2)
    c = inventory.client.sku(on_hand=3)
    inventory.client.hold({b: 2})
    levels = inventory.stub.BatchGetStockLevels(pb.BatchGetStockLevelsRequest(skus=[c, a, b])).levels
    assert list(levels) == [
        pb.StockLevel(sku=c, on_hand=3, reserved=0, available=3),
        pb.StockLevel(sku=a, on_hand=1, reserved=0, available=1),
        pb.StockLevel(sku=b, on_hand=2, reserved=2, available=0),
    ]
    reversed_levels = inventory.stub.BatchGetStockLevels(pb.BatchGetStockLevelsRequest(skus=[b, a, c]))
    assert [x.sku for x in reversed_levels.levels] == [b, a, c]


def test_batch_get_with_unknown_skus_names_every_one(inventory):
    known = inventory.client.sku(on_hand=1)
    missing_1, missing_2 = unique_sku("GONE"), unique_sku("GONE")
    f = refusal(
        inventory.stub.BatchGetStockLevels,
        pb.BatchGetStockLevelsRequest(skus=[missing_1, known, missing_2]),
    )
    assert f.code == grpc.StatusCode.NOT_FOUND
    assert f.reason == "SKU_NOT_FOUND"
    assert f.metadata["skus"].split(",") == [missing_1, missing_2]
    assert missing_1 in f.message and missing_2 in f.message and known not in f.message


def test_overdue_holds_are_not_reserved_and_adjust_reclaims_them(inventory, db):
    sku = inventory.client.sku(on_hand=5)
    tight = inventory.client.sku(on_hand=2)
    inventory.client.hold({sku: 2}, ttl_seconds=1)
    inventory.client.hold({sku: 1})  # stays ACTIVE
    overdue_on_tight = inventory.client.hold({tight: 2}, ttl_seconds=1)
    assert inventory.client.level(sku).reserved == 3
    time.sleep(1.2)

    levels = inventory.stub.BatchGetStockLevels(pb.BatchGetStockLevelsRequest(skus=[sku, tight])).levels
    assert levels[0] == pb.StockLevel(sku=sku, on_hand=5, reserved=1, available=4)
    assert levels[1] == pb.StockLevel(sku=tight, on_hand=2, reserved=0, available=2)
    # Nothing has swept them: the rows still count them, only the reading leaves them out.
    assert _stock_row(db, sku) == (5, 3)
    assert _stock_row(db, tight) == (2, 2)

    # Taking the overdue units away reclaims the hold in the same transaction.
    level = _adjust(inventory, tight, -2, note="shrinkage")
    assert (level.on_hand, level.reserved, level.available) == (0, 0, 0)
    assert _stock_row(db, tight) == (0, 0)
    got = inventory.stub.GetHold(pb.GetHoldRequest(id=overdue_on_tight.id)).hold
    assert got.state == pb.HOLD_STATE_EXPIRED
    assert db.execute("SELECT state FROM holds WHERE id = %s", (overdue_on_tight.id,)).fetchone()[0] == (
        "EXPIRED"
    )
    assert [(r[0], r[1], r[2]) for r in _ledger(db, tight)] == [
        ("RECEIVE", 2, 0),
        ("HOLD", 0, 2),
        ("EXPIRE", 0, -2),
        ("ADJUST", -2, 0),
    ]

"""Issue 16: unsellable states (MoveStock), incoming stock (receipts), inventory policies,
backorders and preorders within caps, and owed units covered oldest commit first."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf import timestamp_pb2
from holdfast.inventory.v1 import inventory_pb2 as pb
from holdfast.inventory.v1 import inventory_pb2_grpc as pb_grpc

from holdfast_ops.audit import find_breaches
from tests.support.builders import hold_request
from tests.support.grpc_helpers import new_request_id, refusal

AVAILABLE = pb.STOCK_STATE_AVAILABLE
DAMAGED = pb.STOCK_STATE_DAMAGED
SAFETY = pb.STOCK_STATE_SAFETY_STOCK
QC = pb.STOCK_STATE_QUALITY_CONTROL
BACKORDER = pb.INVENTORY_POLICY_KIND_BACKORDER
PREORDER = pb.INVENTORY_POLICY_KIND_PREORDER
DENY = pb.INVENTORY_POLICY_KIND_DENY


def _ts(when: datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(when)
    return ts


def _move(inventory, sku, from_state, to_state, quantity, request_id=None):
    return inventory.stub.MoveStock(
        pb.MoveStockRequest(
            request_id=request_id or new_request_id(),
            sku=sku,
            from_state=from_state,
            to_state=to_state,
            quantity=quantity,
        )
    ).stock_level


def _policy(inventory, sku, kind, *, location="", backorder_limit=0, preorder_limit=0, end=None):
    policy = pb.InventoryPolicy(
        sku=sku,
        location=location,
        kind=kind,
        backorder_limit=backorder_limit,
        preorder_limit=preorder_limit,
        preorder_end_time=_ts(end) if end else None,
    )
    return inventory.stub.SetInventoryPolicy(
        pb.SetInventoryPolicyRequest(request_id=new_request_id(), policy=policy)
    ).policy


def _expect(inventory, sku, quantity, when):
    return inventory.stub.CreateIncomingStock(
        pb.CreateIncomingStockRequest(
            request_id=new_request_id(), sku=sku, quantity=quantity, expected_time=_ts(when)
        )
    )


def _receive(inventory, receipt_id, quantity=0, allow_over_receive=False):
    return inventory.stub.ReceiveStock(
        pb.ReceiveStockRequest(
            request_id=new_request_id(),
            incoming_stock_id=receipt_id,
            quantity=quantity,
            allow_over_receive=allow_over_receive,
        )
    )


def _commit(inventory, hold_id):
    return inventory.stub.CommitHold(pb.CommitHoldRequest(request_id=new_request_id(), hold_id=hold_id)).hold


def _ledger(db, sku):
    return db.execute(
        "SELECT reason, delta_on_hand, delta_owed, hold_id::text FROM stock_ledger"
        " WHERE sku = %s AND reason IN ('COMMIT', 'RECEIPT', 'COVER', 'ADJUST') ORDER BY id",
        (sku,),
    ).fetchall()


# ------------------------------------------------------------ states


def test_moved_units_are_never_sold_and_come_back(inventory, db):
    sku = inventory.client.sku(on_hand=10)
    level = _move(inventory, sku, AVAILABLE, DAMAGED, 3)
    assert (level.on_hand, level.damaged, level.available) == (10, 3, 7)
    level = _move(inventory, sku, AVAILABLE, SAFETY, 2)
    level = _move(inventory, sku, DAMAGED, QC, 1)
    assert (level.safety_stock, level.damaged, level.quality_control, level.available) == (2, 2, 1, 5)
    # Only the 5 available units are sold: a sixth is refused.
    f = refusal(inventory.stub.CreateHold, hold_request({sku: 6}))
    assert f.reason == "INSUFFICIENT_STOCK"
    inventory.client.hold({sku: 5})
    # Nor can an adjustment take on_hand below reserved + the states.
    f = refusal(
        inventory.stub.AdjustStock,
        pb.AdjustStockRequest(
            request_id=new_request_id(), sku=sku, delta=-1, reason=pb.ADJUSTMENT_REASON_ADJUST
        ),
    )
    assert f.reason == "ON_HAND_BELOW_RESERVED"
    level = _move(inventory, sku, QC, AVAILABLE, 1)
    assert level.available == 1
    rows = db.execute(
        "SELECT delta_on_hand, delta_damaged, delta_quality_control FROM stock_ledger"
        " WHERE sku = %s AND reason = 'MOVE' ORDER BY id",
        (sku,),
    ).fetchall()
    # One row per side; on_hand never moves.
    assert len(rows) == 8 and all(r[0] == 0 for r in rows)
    assert rows[4:6] == [(0, -1, 0), (0, 0, 1)]


def test_watchers_see_a_move_between_states(inventory):
    sku = inventory.client.sku(on_hand=5)
    stream = inventory.stub.WatchStockLevels(pb.WatchStockLevelsRequest(skus=[sku]), timeout=20)
    try:
        assert next(stream).stock_level.available == 5
        _move(inventory, sku, AVAILABLE, QC, 2)
        changed = next(stream).stock_level
        assert (changed.on_hand, changed.quality_control, changed.available) == (5, 2, 3)
    finally:
        stream.cancel()


def test_move_is_idempotent_and_more_than_a_state_holds_is_refused(inventory, db):
    sku = inventory.client.sku(on_hand=4)
    rid = new_request_id()
    first = _move(inventory, sku, AVAILABLE, DAMAGED, 2, request_id=rid)
    assert _move(inventory, sku, AVAILABLE, DAMAGED, 2, request_id=rid) == first
    count = db.execute("SELECT count(*) FROM stock_ledger WHERE request_id = %s", (rid,)).fetchone()[0]
    assert count == 2
    f = refusal(
        inventory.stub.MoveStock,
        pb.MoveStockRequest(
            request_id=new_request_id(), sku=sku, from_state=DAMAGED, to_state=AVAILABLE, quantity=3
        ),
    )
    assert f.code == grpc.StatusCode.FAILED_PRECONDITION
    assert f.reason == "INSUFFICIENT_UNITS_IN_STATE"
    assert [field for field, _ in f.field_violations] == ["quantity"]
    assert inventory.client.level(sku).damaged == 2


# ------------------------------------------------------------ incoming stock


def test_receipts_grow_incoming_then_on_hand_in_parts(inventory, db):
    sku = inventory.client.sku(on_hand=0)
    made = _expect(inventory, sku, 10, datetime.now(UTC) + timedelta(days=3))
    assert made.stock_level.incoming == 10
    receipt = made.incoming_stock
    assert receipt.state == pb.INCOMING_STOCK_STATE_OPEN
    part = _receive(inventory, receipt.id, 4)
    assert (part.incoming_stock.received, part.incoming_stock.state) == (4, pb.INCOMING_STOCK_STATE_OPEN)
    assert (part.stock_level.on_hand, part.stock_level.incoming) == (4, 6)
    f = refusal(
        inventory.stub.ReceiveStock,
        pb.ReceiveStockRequest(request_id=new_request_id(), incoming_stock_id=receipt.id, quantity=7),
    )
    assert f.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [field for field, _ in f.field_violations] == ["quantity"]
    rest = _receive(inventory, receipt.id, 7, allow_over_receive=True)
    assert (rest.incoming_stock.received, rest.incoming_stock.state) == (11, pb.INCOMING_STOCK_STATE_RECEIVED)
    assert (rest.stock_level.on_hand, rest.stock_level.incoming) == (11, 0)
    f = refusal(
        inventory.stub.CancelIncomingStock,
        pb.CancelIncomingStockRequest(request_id=new_request_id(), incoming_stock_id=receipt.id),
    )
    assert f.reason == "INCOMING_STOCK_NOT_OPEN"
    other = _expect(inventory, sku, 5, datetime.now(UTC) + timedelta(days=9)).incoming_stock
    cancelled = inventory.stub.CancelIncomingStock(
        pb.CancelIncomingStockRequest(request_id=new_request_id(), incoming_stock_id=other.id)
    )
    assert cancelled.incoming_stock.state == pb.INCOMING_STOCK_STATE_CANCELLED
    assert cancelled.stock_level.incoming == 0
    listed = inventory.stub.ListIncomingStock(pb.ListIncomingStockRequest(sku=sku, page_size=1))
    assert [r.id for r in listed.incoming_stock] == [receipt.id]
    page2 = inventory.stub.ListIncomingStock(
        pb.ListIncomingStockRequest(sku=sku, page_size=1, page_token=listed.next_page_token)
    )
    assert [r.id for r in page2.incoming_stock] == [other.id]
    opened = inventory.stub.ListIncomingStock(pb.ListIncomingStockRequest(sku=sku, open_only=True))
    assert list(opened.incoming_stock) == []


# ------------------------------------------------------------ policies, backorders, preorders


def test_backorders_within_the_cap_then_owed_covered_oldest_first(inventory, db):
    sku = inventory.client.sku(on_hand=2)
    _policy(inventory, sku, BACKORDER, backorder_limit=5)
    got = inventory.stub.GetInventoryPolicy(pb.GetInventoryPolicyRequest(sku=sku))
    assert (got.default_policy.kind, got.default_policy.backorder_limit) == (BACKORDER, 5)
    first = inventory.client.hold({sku: 4}, owner_id="first")
    (line,) = first.lines
    assert (line.from_stock, line.backordered, line.preordered) == (2, 2, 0)
    assert [(a.location, a.quantity, a.backordered) for a in line.allocations] == [("default", 4, 2)]
    # The caller may refuse backorders for its cart.
    request = hold_request({sku: 1})
    request.deny_beyond_stock = True
    assert refusal(inventory.stub.CreateHold, request).reason == "INSUFFICIENT_STOCK"
    second = inventory.client.hold({sku: 3}, owner_id="second")
    assert second.lines[0].backordered == 3
    # The cap (5) is full.
    assert refusal(inventory.stub.CreateHold, hold_request({sku: 1})).reason == "INSUFFICIENT_STOCK"
    level = inventory.client.level(sku)
    assert (level.on_hand, level.reserved, level.available, level.backordered) == (2, 2, 0, 5)
    # A limit below what is outstanding is refused, naming the field.
    f = refusal(
        inventory.stub.SetInventoryPolicy,
        pb.SetInventoryPolicyRequest(
            request_id=new_request_id(),
            policy=pb.InventoryPolicy(sku=sku, kind=BACKORDER, backorder_limit=4),
        ),
    )
    assert [field for field, _ in f.field_violations] == ["policy.backorder_limit"]
    # Promise: a receipt of 4 covers the first hold's 2 but not the second's 3 after it.
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    receipt = _expect(inventory, sku, 4, soon).incoming_stock
    got_first = inventory.stub.GetHold(pb.GetHoldRequest(id=first.id)).hold
    assert got_first.lines[0].promise_time.ToDatetime(tzinfo=UTC) == soon
    assert not inventory.stub.GetHold(pb.GetHoldRequest(id=second.id)).hold.lines[0].HasField("promise_time")
    # Commit both (the second first), then stock arrives: the oldest commit is covered first.
    _commit(inventory, second.id)
    _commit(inventory, first.id)
    level = inventory.client.level(sku)
    assert (level.on_hand, level.owed, level.backordered) == (0, 5, 0)
    done = _receive(inventory, receipt.id, 4)
    assert (done.stock_level.on_hand, done.stock_level.owed, done.stock_level.available) == (0, 1, 0)
    covers = [r for r in _ledger(db, sku) if r[0] == "COVER"]
    assert covers == [("COVER", -3, -3, second.id), ("COVER", -1, -1, first.id)]
    # An adjustment is stock arriving too: it covers the last owed unit and keeps the rest.
    level = inventory.stub.AdjustStock(
        pb.AdjustStockRequest(
            request_id=new_request_id(), sku=sku, delta=3, reason=pb.ADJUSTMENT_REASON_RECEIVE
        )
    ).stock_level
    assert (level.on_hand, level.owed, level.available) == (2, 0, 2)
    assert _ledger(db, sku)[-1] == ("COVER", -1, -1, first.id)
    assert db.execute("SELECT sum(quantity) FROM owed WHERE sku = %s", (sku,)).fetchone()[0] == 0


def test_released_and_expired_backorders_give_back_the_cap(inventory, db):
    sku = inventory.client.sku(on_hand=0)
    _policy(inventory, sku, BACKORDER, backorder_limit=2)
    hold = inventory.client.hold({sku: 2})
    inventory.stub.ReleaseHold(pb.ReleaseHoldRequest(request_id=new_request_id(), hold_id=hold.id))
    short = inventory.client.hold({sku: 2}, ttl_seconds=0.2)
    assert short.lines[0].backordered == 2
    import time

    time.sleep(0.4)
    # The overdue hold is reclaimed by the next reserve on its rows.
    again = inventory.client.hold({sku: 2})
    assert again.lines[0].backordered == 2
    assert inventory.client.level(sku).backordered == 2


def test_preorders_end_at_their_end_time_half_open(inventory, db):
    sku = inventory.client.sku(on_hand=0)
    end = datetime.now(UTC) + timedelta(seconds=60)
    _policy(inventory, sku, PREORDER, preorder_limit=3, end=end)
    held = inventory.client.hold({sku: 1})
    assert held.lines[0].preordered == 1
    # Move the window's end to exactly now (past the validation's clock, as time passes):
    # at the end time itself no preorder is taken.
    db.execute("UPDATE inventory_policies SET preorder_end_time = now() WHERE sku = %s", (sku,))
    assert refusal(inventory.stub.CreateHold, hold_request({sku: 1})).reason == "INSUFFICIENT_STOCK"
    # The same, decided by the transaction's own clock: end_time = the transaction's now() is closed.
    with db.transaction():
        db.execute(
            "UPDATE inventory_policies SET preorder_end_time = now() + interval '1 hour' WHERE sku = %s",
            (sku,),
        )
    assert inventory.client.hold({sku: 1}).lines[0].preordered == 1


def test_location_override_wins_over_the_default(inventory, db):
    inventory.stub.CreateLocation(
        pb.CreateLocationRequest(location=pb.Location(code="ovr-east", name="East"))
    )
    sku = inventory.client.sku(on_hand=0)
    _policy(inventory, sku, BACKORDER, backorder_limit=10)
    _policy(inventory, sku, DENY, location="ovr-east")
    got = inventory.stub.GetInventoryPolicy(pb.GetInventoryPolicyRequest(sku=sku))
    assert [(p.location, p.kind) for p in got.location_policies] == [("ovr-east", DENY)]
    # `default` follows the variant's default; a pin to the overridden location sells no further.
    assert inventory.client.hold({sku: 1}).lines[0].backordered == 1
    inventory.stub.AdjustStock(
        pb.AdjustStockRequest(
            request_id=new_request_id(),
            sku=sku,
            delta=1,
            reason=pb.ADJUSTMENT_REASON_RECEIVE,
            location="ovr-east",
        )
    )
    pinned = hold_request({sku: 2})
    pinned.lines[0].location = "ovr-east"
    assert refusal(inventory.stub.CreateHold, pinned).reason == "INSUFFICIENT_STOCK"
    _policy(inventory, sku, BACKORDER, location="ovr-east", backorder_limit=1)
    line = inventory.stub.CreateHold(pinned).hold.lines[0]
    assert (line.from_stock, line.backordered, line.allocations[0].location) == (1, 1, "ovr-east")


def test_a_receipt_racing_holds_never_oversells(inventory, db):
    sku = inventory.client.sku(on_hand=0)
    _policy(inventory, sku, BACKORDER, backorder_limit=5)
    receipt = _expect(inventory, sku, 5, datetime.now(UTC) + timedelta(days=1)).incoming_stock
    futures = [inventory.stub.CreateHold.future(hold_request({sku: 1})) for _ in range(20)]
    _receive(inventory, receipt.id)
    held = []
    for future in futures:
        try:
            held.append(future.result().hold)
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    from_stock = sum(h.lines[0].from_stock for h in held)
    backordered = sum(h.lines[0].backordered for h in held)
    assert backordered <= 5 and from_stock <= 5
    assert len(held) == from_stock + backordered
    level = inventory.client.level(sku)
    assert (level.reserved, level.backordered) == (from_stock, backordered)


@pytest.mark.parametrize("total_calls", [500])
def test_flash_sale_on_a_backorder_cap(inventory, db, database_url, total_calls):
    """Stock 10, cap 20, 500 concurrent holds of 1 through the server (grpc.aio, all in flight
    at once so they coalesce): exactly 30 succeed, 10 from stock and 20 backordered."""
    sku = inventory.client.sku(on_hand=10)
    _policy(inventory, sku, BACKORDER, backorder_limit=20)

    async def storm() -> list[pb.Hold | grpc.aio.AioRpcError]:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{inventory.port}") as channel:
            stub = pb_grpc.InventoryServiceStub(channel)

            async def one() -> pb.Hold | grpc.aio.AioRpcError:
                try:
                    return (await stub.CreateHold(hold_request({sku: 1}), timeout=60)).hold
                except grpc.aio.AioRpcError as error:
                    return error

            return await asyncio.gather(*(one() for _ in range(total_calls)))

    outcomes = asyncio.run(storm())
    held = [o for o in outcomes if isinstance(o, pb.Hold)]
    refused = [o for o in outcomes if not isinstance(o, pb.Hold)]
    assert len(held) == 30
    assert {e.code() for e in refused} == {grpc.StatusCode.FAILED_PRECONDITION}
    assert sum(h.lines[0].from_stock for h in held) == 10
    assert sum(h.lines[0].backordered for h in held) == 20
    level = inventory.client.level(sku)
    assert (level.on_hand, level.reserved, level.available, level.backordered) == (10, 10, 0, 20)
    assert find_breaches(database_url) == {}

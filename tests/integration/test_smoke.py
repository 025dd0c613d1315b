from holdfast.inventory.v1 import inventory_pb2 as pb


def test_hold_reserves_and_commit_consumes(inventory):
    sku = inventory.client.sku(on_hand=5)
    hold = inventory.client.hold({sku: 2})
    assert hold.state == pb.HOLD_STATE_ACTIVE
    level = inventory.client.level(sku)
    assert (level.on_hand, level.reserved, level.available) == (5, 2, 3)
    inventory.stub.CommitHold(pb.CommitHoldRequest(request_id="c-1", hold_id=hold.id))
    level = inventory.client.level(sku)
    assert (level.on_hand, level.reserved, level.available) == (3, 0, 3)

"""Redis stopped and started again under a running sweeper, while shoppers keep reserving."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from holdfast.inventory.v1 import inventory_pb2 as pb

from tests.support.grpc_helpers import new_request_id
from tests.support.polling import wait_until
from tests.support.redis_server import RedisServer


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis this test may stop and start, whatever REDIS_URL says."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


class Shopper(threading.Thread):
    """Holds and releases a unit over and over, remembering every failed call."""

    def __init__(self, stub, sku: str) -> None:
        super().__init__(daemon=True)
        self.stub, self.sku = stub, sku
        self.done = threading.Event()
        self.calls = 0
        self.failures: list[str] = []

    def run(self) -> None:
        while not self.done.is_set():
            try:
                hold = self.stub.CreateHold(
                    pb.CreateHoldRequest(
                        request_id=new_request_id(),
                        owner_id="shopper",
                        lines=[pb.HoldLine(sku=self.sku, quantity=1)],
                    ),
                    timeout=10,
                ).hold
                self.stub.ReleaseHold(
                    pb.ReleaseHoldRequest(request_id=new_request_id(), hold_id=hold.id), timeout=10
                )
                self.calls += 1
            except grpc.RpcError as error:
                self.failures.append(f"{error.code()}: {error.details()}")
            time.sleep(0.02)


def test_the_sweeper_carries_on_after_redis_restarts_and_create_hold_works_throughout(
    inventory, sweeper, own_redis, db
):
    worker = sweeper("worker", redis_url=own_redis.url)
    scheduler = sweeper("scheduler", redis_url=own_redis.url)
    # The shopper reserves on a SKU of its own: a reserve reclaims overdue holds on the
    # SKUs it locks, and the probe holds must owe their expiry to the sweeper alone.
    shopper = Shopper(inventory.stub, inventory.client.sku(on_hand=100))
    probe_sku = inventory.client.sku(on_hand=100)

    def expired(*holds: pb.Hold) -> bool:
        ids = [h.id for h in holds]
        row = db.execute(
            "SELECT count(*) FROM holds WHERE id = ANY(%s::uuid[]) AND state = 'EXPIRED'", (ids,)
        ).fetchone()
        return row == (len(ids),)

    shopper.start()
    before = inventory.client.hold({probe_sku: 1}, ttl_seconds=0.3)
    wait_until(lambda: expired(before), 30, "the sweeper to expire a hold")
    calls_before_outage = shopper.calls

    own_redis.stop()
    during = inventory.client.hold({probe_sku: 1}, ttl_seconds=0.3)
    time.sleep(3)  # long enough for the worker's consumer and the scheduler to hit the outage
    assert worker.alive and scheduler.alive
    calls_during_outage = shopper.calls - calls_before_outage
    own_redis.start()
    after = inventory.client.hold({probe_sku: 1}, ttl_seconds=0.3)

    wait_until(lambda: expired(during, after), 60, "the sweeper to resume after the restart")
    shopper.done.set()
    shopper.join(timeout=30)
    assert shopper.failures == []
    assert calls_during_outage > 0
    # The very same processes carried on: nothing was restarted.
    assert worker.alive and scheduler.alive

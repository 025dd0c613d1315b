"""Callers that hang up: the server logs the call and carries on."""

from __future__ import annotations

import time

from grpc_health.v1 import health_pb2
from holdfast.inventory.v1 import inventory_pb2 as pb

from holdfast_common.rpc.healthcheck import check as health_check


def test_watchers_hanging_up_at_any_moment_never_crash_the_server(inventory) -> None:
    # Regression (fuzz): the call interceptor asked a cancelled stream's context for its
    # peer as the call ended, and grpcio's aio server crashed the process (SIGSEGV).
    # Before the fix these 600 calls crashed it in each of three runs.
    sku = inventory.client.sku(on_hand=5)
    for i in range(600):
        stream = inventory.stub.WatchStockLevels(pb.WatchStockLevelsRequest(skus=[sku]), timeout=10)
        if i % 3 == 0:
            next(stream)  # hang up after the first message
        elif i % 3 == 1:
            time.sleep(0.0005 * (i % 7))  # or at some moment while it starts
        stream.cancel()  # or at once
    assert (
        health_check(inventory.client.target, inventory.settings.security)
        == health_pb2.HealthCheckResponse.SERVING
    )
    assert inventory.client.level(sku).on_hand == 5

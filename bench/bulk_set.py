"""The bulk-set scenario: an ERP's stock sync, BatchUpdateStock of 1,000 SET rows one batch
after another, while shoppers keep reserving the same SKUs."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import grpc
from holdfast.inventory.v1 import inventory_pb2 as pb
from holdfast.inventory.v1 import inventory_pb2_grpc

from bench.catalog import ON_HAND
from bench.drivers import OpenEndedLoad, Targets, open_inventory_channel
from bench.measurement import Measurement, summarize
from bench.skus import SkuSet
from bench.workloads import CALL_TIMEOUT_SECONDS

SCENARIO = "bulk-set"


@dataclass(frozen=True)
class BulkSetResult:
    rows: int
    # One call at a time: its latencies are the batches'.
    batches: Measurement
    # The shoppers reserving the same SKUs meanwhile (spread CreateHolds).
    reservers: Measurement

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "batches": self.batches.to_json(), "reservers": self.reservers.to_json()}


def _batch(synced: SkuSet, n: int) -> pb.BatchUpdateStockRequest:
    """Every SKU set to a count that differs from the last batch's, so every row changes
    (far above what the shoppers hold: no row is refused)."""
    return pb.BatchUpdateStockRequest(
        request_id=str(uuid.uuid4()),
        updates=[
            pb.StockUpdate(sku=synced.sku(i), set_on_hand=ON_HAND - 1 - n % 2, note="bench sync")
            for i in range(synced.count)
        ],
        mode=pb.STOCK_UPDATE_MODE_PER_ROW,
    )


def bulk_set_under_load(
    targets: Targets, shop: SkuSet, *, rows: int, batches: int, reservers: int
) -> BulkSetResult:
    """Sends `batches` BatchUpdateStock calls of `rows` SET rows (the shop's first `rows`
    SKUs), one after another, while `reservers` callers run spread CreateHolds over the same
    SKUs; a refused row counts as an error of the batches."""
    synced = SkuSet(shop.prefix, min(rows, shop.count))
    load = OpenEndedLoad("spread", reservers, targets=targets, skus=synced, warmup=1.0)
    try:
        load.wait_measuring()
        channel, metadata = open_inventory_channel(targets)
        stub = inventory_pb2_grpc.InventoryServiceStub(channel)
        latencies: list[float] = []
        errors: Counter[str] = Counter()
        started = time.perf_counter()
        with channel:
            for n in range(batches):
                request = _batch(synced, n)
                begin = time.perf_counter()
                try:
                    response = stub.BatchUpdateStock(request, timeout=CALL_TIMEOUT_SECONDS, metadata=metadata)
                except grpc.RpcError as error:
                    errors[error.code().name] += 1
                    continue
                latencies.append((time.perf_counter() - begin) * 1000)
                if response.failed_count:
                    errors["refused rows"] += response.failed_count
        measured = summarize(SCENARIO, 1, time.perf_counter() - started, latencies, dict(errors))
        return BulkSetResult(synced.count, measured, load.stop())
    finally:
        load.kill()

"""What each scenario's callers send: one call per invocation, a fresh request each time."""

from __future__ import annotations

import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import grpc
from google.protobuf import duration_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from holdfast.inventory.v1 import inventory_pb2 as ipb
from holdfast.inventory.v1 import inventory_pb2_grpc
from holdfast.pricing.v1 import pricing_pb2 as ppb
from holdfast.pricing.v1 import pricing_pb2_grpc

from bench.catalog import FEWEST_CHANNEL, PRIORITY_CHANNEL, TIER
from bench.skus import SkuSet

# Holds outlive any run, so nothing expires under the bench's feet.
HOLD_TTL = duration_pb2.Duration(seconds=900)
# A call stuck this long counts as DEADLINE_EXCEEDED instead of stalling the run.
CALL_TIMEOUT_SECONDS = 30.0

Call = Callable[[], Awaitable[object]]
# Call metadata sent with every call (the bearer token of a --secure run), or None.
Metadata = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Scenario:
    name: str
    # Which server the callers talk to: "inventory" or "pricing".
    service: str
    description: str
    make: Callable[[grpc.aio.Channel, SkuSet, Metadata | None], Call]


def _owner() -> str:
    return f"cart-{random.randrange(1_000_000)}"


def _echo(channel: grpc.aio.Channel, skus: SkuSet, metadata: Metadata | None) -> Call:
    stub = health_pb2_grpc.HealthStub(channel)
    request = health_pb2.HealthCheckRequest()
    # types-grpcio-health-checking declares HealthStub without its methods.
    return lambda: stub.Check(request, timeout=CALL_TIMEOUT_SECONDS, metadata=metadata)  # type: ignore[attr-defined]


def _create_hold(
    lines: Callable[[SkuSet], list[ipb.HoldLine]],
    pricing: ipb.HoldPricing | None = None,
    sales_channel: str = "",
) -> Callable[[grpc.aio.Channel, SkuSet, Metadata | None], Call]:
    def make(channel: grpc.aio.Channel, skus: SkuSet, metadata: Metadata | None) -> Call:
        stub = inventory_pb2_grpc.InventoryServiceStub(channel)

        def call() -> Awaitable[object]:
            request = ipb.CreateHoldRequest(
                request_id=str(uuid.uuid4()),
                owner_id=_owner(),
                lines=lines(skus),
                ttl=HOLD_TTL,
                pricing=pricing,
                channel=sales_channel,
            )
            return stub.CreateHold(request, timeout=CALL_TIMEOUT_SECONDS, metadata=metadata)

        return call

    return make


def _quote_cart(channel: grpc.aio.Channel, skus: SkuSet, metadata: Metadata | None) -> Call:
    stub = pricing_pb2_grpc.PricingServiceStub(channel)

    def call() -> Awaitable[object]:
        lines = [
            ppb.CartLine(sku=skus.sku(i), quantity=random.randint(1, 3))
            for i in random.sample(range(skus.count), min(3, skus.count))
        ]
        return stub.QuoteCart(
            ppb.QuoteCartRequest(lines=lines, customer_tier=TIER),
            timeout=CALL_TIMEOUT_SECONDS,
            metadata=metadata,
        )

    return call


def _hot(skus: SkuSet) -> list[ipb.HoldLine]:
    return [ipb.HoldLine(sku=skus.sku(0), quantity=1)]


def _spread(skus: SkuSet) -> list[ipb.HoldLine]:
    return [ipb.HoldLine(sku=skus.sku(random.randrange(skus.count)), quantity=1)]


def _cart5(skus: SkuSet) -> list[ipb.HoldLine]:
    return [ipb.HoldLine(sku=skus.sku(i), quantity=1) for i in random.sample(range(skus.count), 5)]


def _priced(skus: SkuSet) -> list[ipb.HoldLine]:
    # 1-3 units, so the bulk rule (from 2) applies to some holds and not to others.
    return [ipb.HoldLine(sku=skus.sku(random.randrange(skus.count)), quantity=random.randint(1, 3))]


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("echo", "inventory", "grpc.health.v1.Health/Check on the inventory server", _echo),
        Scenario("hot", "inventory", "CreateHold, every call on one SKU", _create_hold(_hot)),
        Scenario("spread", "inventory", "CreateHold, a random SKU", _create_hold(_spread)),
        Scenario(
            "multi-priority",
            "inventory",
            f"CreateHold, a random SKU, through {PRIORITY_CHANNEL} (3 locations, PRIORITY)",
            _create_hold(_spread, sales_channel=PRIORITY_CHANNEL),
        ),
        Scenario(
            "multi-fewest",
            "inventory",
            f"CreateHold, a random SKU, through {FEWEST_CHANNEL} (3 locations, FEWEST_LOCATIONS)",
            _create_hold(_spread, sales_channel=FEWEST_CHANNEL),
        ),
        Scenario("cart5", "inventory", "CreateHold, 5 distinct random SKUs", _create_hold(_cart5)),
        Scenario(
            "priced",
            "inventory",
            f"CreateHold with prices locked (tier {TIER}), a random SKU",
            _create_hold(_priced, ipb.HoldPricing(customer_tier=TIER)),
        ),
        Scenario("quote", "pricing", f"QuoteCart of 3 random SKUs (tier {TIER})", _quote_cart),
    )
}

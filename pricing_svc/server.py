"""Wires the pricing service: pool, servicer, health, reflection, shutdown."""

from __future__ import annotations

import grpc
from holdfast.pricing.v1 import pricing_pb2, pricing_pb2_grpc

from holdfast_common.db.pool import AsyncPool
from holdfast_common.rpc.server import RunningServer
from holdfast_common.rpc.service import Closers, run_service, start_service
from holdfast_common.settings import PricingServiceSettings
from pricing_svc.servicer import PricingServicer

SERVICE_NAME = pricing_pb2.DESCRIPTOR.services_by_name["PricingService"].full_name


async def create_server(settings: PricingServiceSettings, listen: str | None = None) -> RunningServer:
    """Starts serving; `listen` overrides the configured address ("127.0.0.1:0" in tests)."""
    settings = settings.for_service("pricing_svc")

    def register(pool: AsyncPool, server: grpc.aio.Server, closers: Closers) -> list[str]:
        servicer = PricingServicer(pool, settings)
        closers.append(servicer.close)
        pricing_pb2_grpc.add_PricingServiceServicer_to_server(servicer, server)
        return [SERVICE_NAME]

    return await start_service(
        settings,
        listen or settings.server.pricing_listen,
        "pricing_svc",
        register,
        metrics_port=settings.observability.pricing_metrics_port,
    )


def main() -> None:
    run_service("pricing_svc", PricingServiceSettings.from_environment(), create_server)

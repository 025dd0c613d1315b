"""Wires the inventory service: pool, pricing client, servicer, health, reflection, shutdown."""

from __future__ import annotations

import asyncio

import grpc
from holdfast.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from prometheus_client.registry import Collector

from holdfast_common.db.pool import AsyncPool
from holdfast_common.rpc.server import RunningServer
from holdfast_common.rpc.service import Closers, run_service, start_service
from holdfast_common.settings import InventoryServiceSettings
from inventory_svc.metrics import HoldsCollector
from inventory_svc.pricing_client import PricingClient
from inventory_svc.servicer import InventoryServicer

SERVICE_NAME = inventory_pb2.DESCRIPTOR.services_by_name["InventoryService"].full_name


def _holds_collector(pool: AsyncPool) -> list[Collector]:
    return [HoldsCollector(pool, asyncio.get_running_loop())]


async def create_server(settings: InventoryServiceSettings, listen: str | None = None) -> RunningServer:
    """Starts serving; `listen` overrides the configured address ("127.0.0.1:0" in tests)."""
    settings = settings.for_service("inventory_svc")  # its pool and its LISTEN connection
    pricing = PricingClient(settings)
    draining: Closers = []

    def register(pool: AsyncPool, server: grpc.aio.Server, closers: Closers) -> list[str]:
        servicer = InventoryServicer(pool, settings, pricing)
        # Open WatchStockLevels streams end (UNAVAILABLE) as soon as shutdown begins.
        draining.append(servicer.stock_events.close)
        draining.append(servicer.event_feed.close)
        servicer.event_feed.start()
        closers.extend([servicer.close, servicer.stock_events.close, servicer.event_feed.close])
        inventory_pb2_grpc.add_InventoryServiceServicer_to_server(servicer, server)
        return [SERVICE_NAME]

    try:
        running = await start_service(
            settings,
            listen or settings.server.inventory_listen,
            "inventory_svc",
            register,
            metrics_port=settings.observability.inventory_metrics_port,
            # Holds are inventory_svc's: only its replicas report the count of those in play.
            collectors=_holds_collector,
        )
    except BaseException:
        await pricing.close()
        raise
    running.on_drain.extend(draining)
    running.on_stop.append(pricing.close)
    return running


def main() -> None:
    run_service("inventory_svc", InventoryServiceSettings.from_environment(), create_server)

"""Wires the inventory service: pool, servicer, health, reflection, shutdown."""

from __future__ import annotations

import asyncio

import grpc
from holdfast.inventory.v1 import inventory_pb2, inventory_pb2_grpc

from holdfast_common.db import open_pool
from holdfast_common.grpc_server import RunningServer, serve_until_signalled, start_server
from holdfast_common.logs import configure_logging
from holdfast_common.settings import Settings, get_settings
from inventory_svc.servicer import InventoryServicer

SERVICE_NAME = inventory_pb2.DESCRIPTOR.services_by_name["InventoryService"].full_name


async def create_server(settings: Settings, listen: str | None = None) -> RunningServer:
    """Opens the pool and starts serving; `listen` overrides the configured address (":0" in tests)."""
    pool = await open_pool(settings, "inventory_svc")

    def register(server: grpc.aio.Server) -> list[str]:
        inventory_pb2_grpc.add_InventoryServiceServicer_to_server(InventoryServicer(pool, settings), server)
        return [SERVICE_NAME]

    try:
        running = await start_server(listen or settings.inventory_listen, register)
    except BaseException:
        await pool.close()
        raise
    running.on_stop.append(pool.close)
    return running


async def _main(settings: Settings) -> None:
    running = await create_server(settings)
    print(f"inventory_svc listening on port {running.port}", flush=True)
    await serve_until_signalled(running, settings.shutdown_grace_seconds)


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level)
    if not settings.database_url:
        raise SystemExit("DATABASE_URL is not set (`make run` sets it for you)")
    asyncio.run(_main(settings))

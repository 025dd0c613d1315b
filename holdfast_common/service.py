"""A service process: its pool, its gRPC server (health, reflection), and a clean shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import grpc

from holdfast_common.db import AsyncPool, open_pool
from holdfast_common.grpc_server import RunningServer, serve_until_signalled, start_server
from holdfast_common.logs import configure_logging
from holdfast_common.settings import Settings, get_settings

# Adds the servicers, which share the pool, and returns their full service names; what they
# must stop before the pool closes (a batch still running needs its connection) goes in the list.
Closers = list[Callable[[], Awaitable[None]]]
PooledRegistrar = Callable[[AsyncPool, grpc.aio.Server, Closers], list[str]]


async def start_service(
    settings: Settings, listen: str, name: str, register: PooledRegistrar
) -> RunningServer:
    """Opens the pool and starts serving on `listen`; stopping the server closes the pool."""
    pool = await open_pool(settings, name)
    closers: Closers = []
    try:
        running = await start_server(listen, lambda server: register(pool, server, closers))
    except BaseException:
        for close in closers:
            await close()
        await pool.close()
        raise
    running.on_stop.extend([*closers, pool.close])
    return running


def run_service(name: str, create: Callable[[Settings], Awaitable[RunningServer]]) -> None:
    """The process entry point: serves until SIGTERM/SIGINT, then drains in-flight calls."""
    settings = get_settings()
    configure_logging(settings.log_level)
    if not settings.database_url:
        raise SystemExit("DATABASE_URL is not set (`make run` sets it for you)")

    async def serve() -> None:
        running = await create(settings)
        print(f"{name} listening on port {running.port}", flush=True)
        await serve_until_signalled(running, settings.shutdown_grace_seconds)

    asyncio.run(serve())

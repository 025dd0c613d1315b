"""A service process: its pool, its gRPC server (health, reflection), its /metrics, and a clean shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import grpc
from prometheus_client import REGISTRY, CollectorRegistry

from holdfast_common.db import AsyncPool, open_pool
from holdfast_common.grpc_server import RunningServer, serve_until_signalled, start_server
from holdfast_common.logs import configure_logging
from holdfast_common.metrics_collectors import HoldsCollector, PoolCollector
from holdfast_common.metrics_http import serve_metrics
from holdfast_common.settings import Settings, get_settings
from holdfast_common.tracing import acquire as acquire_tracing

# Adds the servicers, which share the pool, and returns their full service names; what they
# must stop before the pool closes (a batch still running needs its connection) goes in the list.
Closers = list[Callable[[], Awaitable[None]]]
PooledRegistrar = Callable[[AsyncPool, grpc.aio.Server, Closers], list[str]]


def _metrics_port(settings: Settings, name: str) -> int:
    ports = {"inventory_svc": settings.inventory_metrics_port, "pricing_svc": settings.pricing_metrics_port}
    return ports.get(name, 0)


# Holds are inventory_svc's: the count of those in play is reported by its replicas only.
_REPORTS_HOLDS = {"inventory_svc"}


def _service_registry(pool: AsyncPool, name: str) -> CollectorRegistry:
    """The process-wide metrics (calls, process) plus this service's pool and, for
    inventory_svc, its holds: each server in a process (tests run several) shows its own."""
    registry = CollectorRegistry()
    registry.register(REGISTRY)
    registry.register(PoolCollector(pool))
    if name in _REPORTS_HOLDS:
        registry.register(HoldsCollector(pool, asyncio.get_running_loop()))
    return registry


async def _start_metrics(settings: Settings, pool: AsyncPool, name: str) -> Callable[[], Awaitable[None]]:
    """Serves /metrics when the service's port is set; returns what stops it."""
    port = _metrics_port(settings, name)
    if not port:
        return _nothing
    stop = serve_metrics(settings.metrics_host, port, _service_registry(pool, name))

    async def stop_metrics() -> None:
        await asyncio.to_thread(stop)

    return stop_metrics


async def _nothing() -> None:
    return None


async def start_service(
    settings: Settings, listen: str, name: str, register: PooledRegistrar
) -> RunningServer:
    """Opens the pool and starts serving on `listen`; stopping the server closes the pool."""
    pool = await open_pool(settings, name)
    closers: Closers = []
    # Before the server is made: with an OTLP endpoint set, its calls are traced.
    tracing = acquire_tracing(settings, name)
    # After the pool; tracing last, to flush the spans of the drained calls.
    last: Closers = [pool.close] if tracing is None else [pool.close, tracing.release]
    try:
        running = await start_server(
            listen,
            lambda server: register(pool, server, closers),
            max_message_bytes=settings.grpc_max_message_bytes,
        )
    except BaseException:
        for close in [*closers, *last]:
            await close()
        raise
    running.on_stop.extend([*closers, *last])
    try:
        # First: the server has drained by then, and the pool must outlive the last scrape.
        running.on_stop.insert(0, await _start_metrics(settings, pool, name))
    except BaseException:
        await running.stop(0)
        raise
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

"""A service process: its pool, its gRPC server (health, reflection), its /metrics, and a clean shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.registry import Collector

from holdfast_common.db.pool import AsyncPool, open_pool
from holdfast_common.observability.logs import configure_logging
from holdfast_common.observability.metrics_http import serve_metrics
from holdfast_common.observability.pool_metrics import PoolCollector
from holdfast_common.observability.tracing import acquire as acquire_tracing
from holdfast_common.rpc.server import RunningServer, serve_until_signalled, start_server
from holdfast_common.security.tls import SecurityConfigError
from holdfast_common.settings import DatabaseClient, ServiceSettings

# The settings of the service being run.
S = TypeVar("S", bound=ServiceSettings)

# Adds the servicers, which share the pool, and returns their full service names; what they
# must stop before the pool closes (a batch still running needs its connection) goes in the list.
Closers = list[Callable[[], Awaitable[None]]]
PooledRegistrar = Callable[[AsyncPool, grpc.aio.Server, Closers], list[str]]


# The collectors a service adds to its /metrics beyond the process-wide ones and its pool's.
ServiceCollectors = Callable[[AsyncPool], list[Collector]]


def _no_collectors(pool: AsyncPool) -> list[Collector]:
    return []


def _service_registry(pool: AsyncPool, collectors: ServiceCollectors) -> CollectorRegistry:
    """The process-wide metrics (calls, process) plus this service's pool and its own
    collectors: each server in a process (tests run several) shows its own."""
    registry = CollectorRegistry()
    registry.register(REGISTRY)
    registry.register(PoolCollector(pool))
    for collector in collectors(pool):
        registry.register(collector)
    return registry


async def _start_metrics(
    host: str, pool: AsyncPool, port: int, collectors: ServiceCollectors
) -> Callable[[], Awaitable[None]]:
    """Serves /metrics when the service's port is set; returns what stops it."""
    if not port:
        return _nothing
    stop = serve_metrics(host, port, _service_registry(pool, collectors))

    async def stop_metrics() -> None:
        await asyncio.to_thread(stop)

    return stop_metrics


async def _nothing() -> None:
    return None


async def start_service(
    settings: ServiceSettings,
    listen: str,
    name: str,
    register: PooledRegistrar,
    *,
    metrics_port: int = 0,
    collectors: ServiceCollectors = _no_collectors,
) -> RunningServer:
    """Opens the pool and starts serving on `listen`, with /metrics on `metrics_port` (0: none);
    stopping the server closes the pool."""
    pool = await open_pool(settings.database, name)
    closers: Closers = []
    # Before the server is made: with an OTLP endpoint set, its calls are traced.
    tracing = acquire_tracing(settings.observability, name)
    # After the pool; tracing last, to flush the spans of the drained calls.
    last: Closers = [pool.close] if tracing is None else [pool.close, tracing.release]
    try:
        running = await start_server(
            listen, lambda server: register(pool, server, closers), settings.server, settings.security
        )
    except BaseException:
        for close in [*closers, *last]:
            await close()
        raise
    running.on_stop.extend([*closers, *last])
    try:
        # First: the server has drained by then, and the pool must outlive the last scrape.
        running.on_stop.insert(
            0, await _start_metrics(settings.observability.metrics_host, pool, metrics_port, collectors)
        )
    except BaseException:
        await running.stop(0)
        raise
    return running


def run_service(name: DatabaseClient, settings: S, create: Callable[[S], Awaitable[RunningServer]]) -> None:
    """The process entry point: serves until SIGTERM/SIGINT, then drains in-flight calls."""
    configure_logging(settings.observability.log_level)
    # `create` switches to the service's own database URL; here it only has to exist.
    if not settings.database.for_service(name).database_url:
        raise SystemExit("DATABASE_URL is not set (`make run` sets it for you)")

    async def serve() -> None:
        running = await create(settings)
        print(f"{name} listening on port {running.port}", flush=True)
        await serve_until_signalled(running, settings.server.shutdown_grace_seconds)

    try:
        asyncio.run(serve())
    except SecurityConfigError as exc:
        raise SystemExit(f"{name}: {exc}") from None

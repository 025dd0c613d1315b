"""Server bootstrap shared by the services: call metrics and logs, health, reflection, graceful shutdown."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from holdfast_common.call_interceptor import CallObserver

log = structlog.get_logger(__name__)

# Registers servicers on the server and returns their full service names.
Registrar = Callable[[grpc.aio.Server], list[str]]

MAX_MESSAGE_BYTES = 4 * 1024 * 1024


@dataclass
class RunningServer:
    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    service_names: list[str]
    on_stop: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def stop(self, grace: float) -> None:
        """Health NOT_SERVING, refuse new calls, let in-flight ones finish, then run on_stop hooks."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        for hook in self.on_stop:
            await hook()


async def start_server(
    listen: str, register: Registrar, *, max_message_bytes: int = MAX_MESSAGE_BYTES
) -> RunningServer:
    """Starts a grpc.aio server on `listen` ("host:0" picks a free port)."""
    server = grpc.aio.server(
        interceptors=[CallObserver()],
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.so_reuseport", 0),
        ],
    )
    names = register(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    port = server.add_insecure_port(listen)
    if port == 0:
        raise OSError(f"cannot listen on {listen}")
    await server.start()
    for name in ["", *names]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return RunningServer(server, port, health_servicer, names)


async def serve_until_signalled(running: RunningServer, grace: float) -> None:
    """Blocks until SIGTERM/SIGINT, then shuts down gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    serving = asyncio.ensure_future(running.server.wait_for_termination())
    waiting = asyncio.ensure_future(stop.wait())
    await asyncio.wait({serving, waiting}, return_when=asyncio.FIRST_COMPLETED)
    log.info("shutting down", grace_seconds=grace)
    await running.stop(grace)
    waiting.cancel()
    log.info("stopped")

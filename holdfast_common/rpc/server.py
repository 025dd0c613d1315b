"""Server bootstrap shared by the services: call metrics and logs, TLS, auth and rate limit,
health, reflection, graceful shutdown."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from holdfast_common.rpc.call_observer import CallObserver
from holdfast_common.security.auth import auth_interceptor
from holdfast_common.security.rate_limit import RateLimitInterceptor
from holdfast_common.security.tls import server_credentials
from holdfast_common.settings import SecuritySettings, ServerSettings

log = structlog.get_logger(__name__)

# Registers servicers on the server and returns their full service names.
Registrar = Callable[[grpc.aio.Server], list[str]]


@dataclass
class RunningServer:
    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    # Run once new calls are refused, while in-flight ones drain: for calls that would never
    # end by themselves (streams), which otherwise hold shutdown up for the whole grace.
    on_drain: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    on_stop: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def stop(self, grace: float) -> None:
        """Health NOT_SERVING, refuse new calls, run on_drain hooks while in-flight calls
        finish, then run on_stop hooks."""
        await self.health.enter_graceful_shutdown()
        stopping = asyncio.ensure_future(self.server.stop(grace))
        await asyncio.sleep(0)  # lets stop() begin refusing new calls first
        for hook in self.on_drain:
            await hook()
        await stopping
        for hook in self.on_stop:
            await hook()


def interceptors(security: SecuritySettings) -> list[grpc.aio.ServerInterceptor]:
    """Outermost first: the observer sees every call, refusals included, with their code;
    auth names the caller before the rate limit counts its calls."""
    chain: list[grpc.aio.ServerInterceptor] = [CallObserver()]
    auth = auth_interceptor(security)
    if auth is not None:
        chain.append(auth)
    if security.rate_limit_per_second > 0:
        chain.append(RateLimitInterceptor(security.rate_limit_per_second, security.rate_limit_burst))
    return chain


async def start_server(
    listen: str, register: Registrar, server_settings: ServerSettings, security: SecuritySettings
) -> RunningServer:
    """Starts a grpc.aio server on `listen` ("host:0" picks a free port), secured as the
    settings say; a security setting that cannot work raises SecurityConfigError."""
    credentials = server_credentials(security)
    server = grpc.aio.server(
        interceptors=interceptors(security),
        options=[
            ("grpc.max_receive_message_length", server_settings.grpc_max_message_bytes),
            ("grpc.max_send_message_length", server_settings.grpc_max_message_bytes),
            ("grpc.so_reuseport", 0),
        ],
    )
    names = register(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    if credentials is None:
        port = server.add_insecure_port(listen)
    else:
        port = server.add_secure_port(listen, credentials)
    if port == 0:
        raise OSError(f"cannot listen on {listen}")
    await server.start()
    for name in ["", *names]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return RunningServer(server, port, health_servicer)


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

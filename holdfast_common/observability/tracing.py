"""Optional OpenTelemetry tracing: on only when OTEL_EXPORTER_OTLP_ENDPOINT is set.

Off, nothing here imports opentelemetry: every entry point returns None first. On, a process
gets one TracerProvider (service.name = the role that set it up first), a BatchSpanProcessor
exporting OTLP over HTTP/protobuf to <endpoint>/v1/traces, every grpc.aio server it makes
instrumented (GrpcAioInstrumentorServer) and the channels that ask for it given client
interceptors; trace context travels in gRPC metadata (W3C traceparent). The provider is
shared by reference count and flushed and shut down when its last user releases it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

from holdfast_common.settings import ObservabilitySettings


class Tracing:
    """The process's tracer provider, held by one user until release()."""

    def __init__(self, provider: Any) -> None:
        self.provider = provider

    def client_interceptors(self) -> list[Any]:
        """grpc.aio client interceptors that start a client span and inject its context."""
        from opentelemetry.instrumentation.grpc import aio_client_interceptors

        return list(aio_client_interceptors(tracer_provider=self.provider))

    @staticmethod
    def current_context() -> object:
        """The caller's trace context, to run work done for it elsewhere under it (attached())."""
        from opentelemetry import context

        return context.get_current()

    async def release(self) -> None:
        """Drops this user; the last one flushes and shuts the provider down."""
        global _shared, _users
        if _shared is not self.provider:
            return
        _users -= 1
        if _users > 0:
            return
        from opentelemetry.instrumentation.grpc import GrpcAioInstrumentorServer

        GrpcAioInstrumentorServer().uninstrument()
        _shared, provider = None, self.provider
        await asyncio.to_thread(provider.shutdown)  # exports what is still batched


_shared: Any = None
_users = 0


def acquire(observability: ObservabilitySettings, service_name: str) -> Tracing | None:
    """The process's tracing, set up on first use; None (and no import) when no endpoint is set."""
    global _shared, _users
    endpoint = observability.otel_exporter_otlp_endpoint
    if not endpoint:
        return None
    if _shared is None:
        try:
            from opentelemetry.instrumentation.grpc import GrpcAioInstrumentorServer
        except ImportError as missing:
            raise RuntimeError(
                "OTEL_EXPORTER_OTLP_ENDPOINT is set but tracing is not installed: "
                "pip install 'holdfast[tracing]'"
            ) from missing
        _shared = _provider(endpoint, service_name)
        GrpcAioInstrumentorServer().instrument(tracer_provider=_shared)
    _users += 1
    return Tracing(_shared)


def _provider(endpoint: str, service_name: str) -> Any:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


@contextlib.contextmanager
def attached(trace_context: object) -> Iterator[None]:
    """Runs the block under `trace_context` (from current_context()); None: as it is."""
    if trace_context is None:
        yield
        return
    from opentelemetry import context

    token = context.attach(trace_context)  # type: ignore[arg-type]
    try:
        yield
    finally:
        context.detach(token)

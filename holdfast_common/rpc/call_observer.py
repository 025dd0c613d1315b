"""One observation per gRPC call: its metrics and its log line, as the call ends."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from time import perf_counter
from typing import Any

import grpc
import structlog
from google.rpc import error_details_pb2, status_pb2
from prometheus_client import Counter

from holdfast_common.observability.call_metrics import CALLS, REFUSALS, SECONDS
from holdfast_common.rpc.gated_handlers import Handler, HandlerInterceptor, WrappedHandlers
from holdfast_common.security.caller import current_caller

log = structlog.get_logger("holdfast.calls")

_DETAILS_KEY = "grpc-status-details-bin"
_ERROR_INFO = error_details_pb2.ErrorInfo.DESCRIPTOR.full_name


def _reason(context: grpc.aio.ServicerContext) -> str:
    """The ErrorInfo reason of the rich status the call ended with ("" when it has none)."""
    for key, value in context.trailing_metadata() or ():
        if key == _DETAILS_KEY and isinstance(value, bytes):
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                if detail.TypeName() == _ERROR_INFO:
                    info = error_details_pb2.ErrorInfo()
                    detail.Unpack(info)
                    return info.reason
    return ""


def _code_after(exc: BaseException | None, context: grpc.aio.ServicerContext) -> grpc.StatusCode:
    """The status a call ends with, given what its handler raised (None: it returned)."""
    if exc is None or isinstance(exc, grpc.aio.AbortError):
        return context.code() or grpc.StatusCode.OK
    if isinstance(exc, asyncio.CancelledError | GeneratorExit):
        return grpc.StatusCode.CANCELLED
    return grpc.StatusCode.UNKNOWN  # what grpc answers for an exception it is left with


class _Method:
    """What one method's calls share, resolved on its first call so the hot path only
    looks up a labelled child per status code."""

    __slots__ = ("_calls", "method", "name", "seconds", "service")

    def __init__(self, full_name: str) -> None:
        self.name = full_name
        self.service, _, self.method = full_name.lstrip("/").rpartition("/")
        self.seconds = SECONDS.labels(self.service, self.method)
        self._calls: dict[grpc.StatusCode, Counter] = {}

    def record(
        self,
        request: Any,
        context: grpc.aio.ServicerContext,
        peer: str,
        started: float,
        exc: BaseException | None,
    ) -> None:
        elapsed = perf_counter() - started
        code = _code_after(exc, context)
        self.seconds.observe(elapsed)
        calls = self._calls.get(code)
        if calls is None:
            calls = self._calls[code] = CALLS.labels(self.service, self.method, code.name)
        calls.inc()
        reason = "" if code is grpc.StatusCode.OK else _reason(context)
        if reason:
            REFUSALS.labels(self.service, self.method, reason).inc()
        # Never the call's metadata: it carries the bearer token.
        log.info(
            "call",
            method=self.name,
            code=code.name,
            reason=reason or None,
            request_id=getattr(request, "request_id", None) or None,
            peer=peer,
            caller=current_caller.get(),
            duration_ms=round(elapsed * 1000, 3),
        )


def _unary(method: _Method, behavior: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def observed(request: Any, context: grpc.aio.ServicerContext) -> Any:
        started = perf_counter()
        # Read while the call is alive: after a client cancels, context.peer() can crash
        # the process (grpcio 1.85's aio server), so it is never asked once the call ends.
        peer = context.peer()
        exc: BaseException | None = None
        try:
            return await behavior(request, context)
        except BaseException as raised:
            exc = raised
            raise
        finally:
            method.record(request, context, peer, started, exc)

    return observed


def _stream(
    method: _Method, behavior: Callable[..., AsyncIterator[Any]]
) -> Callable[..., AsyncIterator[Any]]:
    async def observed(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        started = perf_counter()
        peer = context.peer()  # see _unary
        exc: BaseException | None = None
        try:
            async for response in behavior(request, context):
                yield response
        except BaseException as raised:
            exc = raised
            raise
        finally:
            method.record(request, context, peer, started, exc)

    return observed


# Any: the stubs type handlers as the sync API's; grpc.aio's are coroutines and async generators.
def _observe(method: _Method, handler: Any) -> Any:
    """`handler` with its unary-unary, unary-stream or bidirectional (ImportCatalog, reflection)
    behaviour observed; client-streaming ones with a single answer are left as they are."""
    if handler.unary_unary is not None:
        return handler._replace(unary_unary=_unary(method, handler.unary_unary))
    if handler.stream_stream is not None and inspect.isasyncgenfunction(handler.stream_stream):
        return handler._replace(stream_stream=_stream(method, handler.stream_stream))
    stream = handler.unary_stream
    if stream is None:
        return handler
    # A streaming handler written with context.write() is a coroutine, not a generator.
    observed = _stream(method, stream) if inspect.isasyncgenfunction(stream) else _unary(method, stream)
    return handler._replace(unary_stream=observed)


class CallObserver(HandlerInterceptor):
    """Counts, times and logs every call; wraps each handler once, not per call (a method has
    one handler, plus one per way the interceptors inside refuse it)."""

    def __init__(self) -> None:
        super().__init__()
        self._observed = WrappedHandlers()

    def handler_for(self, details: grpc.HandlerCallDetails, handler: Handler) -> Handler:
        name = details.method
        return self._observed.get((name, id(handler)), handler, lambda h: _observe(_Method(name), h))

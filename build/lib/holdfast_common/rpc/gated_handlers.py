"""Method handlers with a gate in front: a check that may refuse a call before its handler runs.

Server interceptors only see a call's method and metadata; a gate also sees its context (the
peer, say). A refused call aborts with the gate's status and never reaches the servicer, so it
costs no database work.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from typing import Any, TypeAlias

import grpc

Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"  # generic in the stubs only

# The status to refuse the call with, or None to let it through.
Gate = Callable[[grpc.aio.ServicerContext], grpc.Status | None]


def refuse_always(status: grpc.Status) -> Gate:
    """A gate that refuses every call with `status`."""
    return lambda _context: status


async def _pass(gate: Gate, context: grpc.aio.ServicerContext) -> None:
    status = gate(context)
    if status is not None:
        await context.abort_with_status(status)


def _gated(gate: Gate, behavior: Callable[..., Any]) -> Callable[..., Any]:
    """`behavior` (either request shape: a message or an iterator of them) behind `gate`."""
    if inspect.isasyncgenfunction(behavior):

        async def gated_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            await _pass(gate, context)
            async for response in behavior(request, context):
                yield response

        return gated_stream

    async def gated(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await _pass(gate, context)
        return await behavior(request, context)

    return gated


# Any: the stubs type handlers as the sync API's; grpc.aio's are coroutines and async generators.
def gate_handler(handler: Any, gate: Gate) -> Any:
    """`handler`, whatever its kind, with `gate` checked before its behaviour runs."""
    for kind in ("unary_unary", "unary_stream", "stream_unary", "stream_stream"):
        behavior = getattr(handler, kind)
        if behavior is not None:
            return handler._replace(**{kind: _gated(gate, behavior)})
    return handler


class WrappedHandlers:
    """Each handler wrapped once per key, not per call: an interceptor's hot path is a lookup.
    A key whose handler changed (another interceptor's refusal, say) is wrapped afresh."""

    def __init__(self) -> None:
        self._wrapped: dict[Hashable, tuple[Any, Any]] = {}

    def get(self, key: Hashable, handler: Any, wrap: Callable[[Any], Any]) -> Any:
        known = self._wrapped.get(key)
        if known is None or known[0] is not handler:
            known = self._wrapped[key] = (handler, wrap(handler))
        return known[1]


class HandlerInterceptor(grpc.aio.ServerInterceptor):
    """A server interceptor that swaps a method's handler for one of its own (or keeps it):
    unknown methods (grpc answers UNIMPLEMENTED) and methods under `skipped_prefixes` pass as
    they are. Subclasses say how in `handler_for`, called on every call: keep it a lookup."""

    def __init__(self, skipped_prefixes: tuple[str, ...] = ()) -> None:
        self._skipped = skipped_prefixes

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith(self._skipped):
            return handler
        return self.handler_for(handler_call_details, handler)

    def handler_for(self, details: grpc.HandlerCallDetails, handler: Handler) -> Handler:
        raise NotImplementedError

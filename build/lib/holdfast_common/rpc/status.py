"""Domain and database errors to google.rpc.Status (AIP-193), never a stack trace or SQL."""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import grpc
import structlog
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from holdfast_common.db.pool import translate_db_error
from holdfast_common.errors import ErrorKind, HoldfastError

log = structlog.get_logger(__name__)
C = TypeVar("C", bound=type)

_CODES = {kind: getattr(code_pb2, kind.value) for kind in ErrorKind}


def _pack(message: Any) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def to_grpc_status(error: HoldfastError, domain: str) -> grpc.Status:
    """The rich status for a domain error: ErrorInfo always, BadRequest/PreconditionFailure when given."""
    return rpc_status.to_status(status_proto(error, domain))


def status_proto(error: HoldfastError, domain: str) -> status_pb2.Status:
    """The google.rpc.Status message of a domain error, as to_grpc_status sends it."""
    details = [
        _pack(error_details_pb2.ErrorInfo(reason=error.reason, domain=domain, metadata=error.metadata))
    ]
    if error.field_violations:
        details.append(
            _pack(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                        for v in error.field_violations
                    ]
                )
            )
        )
    if error.precondition_violations:
        details.append(
            _pack(
                error_details_pb2.PreconditionFailure(
                    violations=[
                        error_details_pb2.PreconditionFailure.Violation(
                            type=v.type, subject=v.subject, description=v.description
                        )
                        for v in error.precondition_violations
                    ]
                )
            )
        )
    return status_pb2.Status(code=_CODES[error.kind], message=error.message, details=details)


def _as_status(exc: Exception, domain: str, method: str) -> grpc.Status:
    if isinstance(exc, HoldfastError):
        return to_grpc_status(exc, domain)
    translated = translate_db_error(exc)
    if translated is not None:
        log.warning("database refusal", method=method, error=type(exc).__name__, reason=translated.reason)
        return to_grpc_status(translated, domain)
    log.exception("internal error", method=method)
    status = status_pb2.Status(
        code=code_pb2.INTERNAL,
        message="internal error",
        details=[_pack(error_details_pb2.ErrorInfo(reason="INTERNAL", domain=domain))],
    )
    return rpc_status.to_status(status)


def translate_errors(domain: str) -> Callable[[C], C]:
    """Class decorator: every async RPC method aborts with a rich status instead of raising.

    RPC methods are those the generated servicer base class declares; other public
    methods (close, say) are left as they are. Server-streaming methods are async
    generators: their failures end the stream with the same rich status.
    """

    def decorate(cls: C) -> C:
        for name, method in list(vars(cls).items()):
            declared = any(hasattr(base, name) for base in cls.__mro__[1:])
            if not declared:
                continue
            if inspect.iscoroutinefunction(method):
                setattr(cls, name, _guard(method, domain, name))
            elif inspect.isasyncgenfunction(method):
                setattr(cls, name, _guard_stream(method, domain, name))
        return cls

    return decorate


def _guard(method: Callable[..., Any], domain: str, name: str) -> Callable[..., Any]:
    @functools.wraps(method)
    async def guarded(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await method(self, request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:  # every failure leaves as a status, never as a trace
            await context.abort_with_status(_as_status(exc, domain, name))

    return guarded


def _guard_stream(method: Callable[..., Any], domain: str, name: str) -> Callable[..., Any]:
    @functools.wraps(method)
    async def guarded(self: Any, request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        try:
            # aclosing: a cancelled or abandoned stream runs the method's cleanup now,
            # not whenever the garbage collector finds it.
            async with contextlib.aclosing(method(self, request, context)) as responses:
                async for response in responses:
                    yield response
        except grpc.aio.AbortError:
            raise
        except Exception as exc:  # every failure leaves as a status, never as a trace
            await context.abort_with_status(_as_status(exc, domain, name))

    return guarded

"""Bearer-token authentication and per-method scopes for the gRPC servers.

Tokens are configured by their SHA-256 (AUTH_TOKENS or AUTH_TOKENS_FILE), so configuration
holds no secret a reader could replay. A call presents `authorization: Bearer <token>`; its
digest is compared in constant time with every configured one. Tokens are never logged.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import grpc
from pydantic import BaseModel, ConfigDict, StringConstraints, TypeAdapter, ValidationError

from holdfast_common.errors import ErrorKind, HoldfastError
from holdfast_common.rpc.gated_handlers import (
    Handler,
    HandlerInterceptor,
    WrappedHandlers,
    gate_handler,
    refuse_always,
)
from holdfast_common.rpc.status import to_grpc_status
from holdfast_common.security.caller import current_caller
from holdfast_common.security.scopes import METHOD_SCOPES, SCOPES
from holdfast_common.security.tls import SecurityConfigError
from holdfast_common.settings import SecuritySettings

# The ErrorInfo domain of refusals made by the server stack rather than a service.
SECURITY_DOMAIN = "holdfast.security"
HEALTH_PREFIX = "/grpc.health.v1.Health/"
REFLECTION_PREFIXES = ("/grpc.reflection.v1alpha.ServerReflection/", "/grpc.reflection.v1.ServerReflection/")

_Hex64 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
_Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,64}$")]


class _TokenEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    caller: _Name
    sha256: _Hex64
    scopes: list[str]


_ENTRIES = TypeAdapter(list[_TokenEntry])


@dataclass(frozen=True)
class Grant:
    """What one token may do, and the name its calls are logged and rate-limited under."""

    caller: str
    digest: bytes
    scopes: frozenset[str]


def parse_grants(text: str | bytes, source: str) -> list[Grant]:
    """Grants from JSON `[{"caller", "sha256", "scopes"}, ...]`; `source` names the setting in errors."""
    try:
        entries = _ENTRIES.validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise SecurityConfigError(f"{source}: {where}: {first['msg']}") from None
    grants: list[Grant] = []
    for entry in entries:
        unknown = set(entry.scopes) - SCOPES
        if unknown:
            raise SecurityConfigError(
                f"{source}: caller {entry.caller!r} has unknown scopes {sorted(unknown)}; "
                f"known: {sorted(SCOPES)}"
            )
        grants.append(Grant(entry.caller, bytes.fromhex(entry.sha256), frozenset(entry.scopes)))
    return grants


def load_grants(security: SecuritySettings) -> list[Grant]:
    """The grants of AUTH_TOKENS and AUTH_TOKENS_FILE together."""
    grants = parse_grants(security.auth_tokens, "AUTH_TOKENS") if security.auth_tokens.strip() else []
    if security.auth_tokens_file:
        try:
            with open(security.auth_tokens_file, "rb") as file:
                text = file.read()
        except OSError as exc:
            raise SecurityConfigError(
                f"AUTH_TOKENS_FILE={security.auth_tokens_file!r} cannot be read: {exc.strerror}"
            ) from None
        grants += parse_grants(text, "AUTH_TOKENS_FILE")
    if len({g.digest for g in grants}) != len(grants):
        raise SecurityConfigError("AUTH_TOKENS / AUTH_TOKENS_FILE list one token digest twice")
    return grants


def token_digest(token: str) -> str:
    """The hex SHA-256 of a token, as AUTH_TOKENS stores it."""
    return hashlib.sha256(token.encode()).hexdigest()


def auth_tokens_json(tokens: Iterable[tuple[str, str, Iterable[str]]]) -> str:
    """The AUTH_TOKENS value granting each (caller, token, scopes): digests only, as parse_grants reads."""
    return json.dumps(
        [
            {"caller": caller, "sha256": token_digest(token), "scopes": list(scopes)}
            for caller, token, scopes in tokens
        ]
    )


class TokenAuthority:
    """Finds the grant of a presented token without revealing, by timing, which digest matched."""

    def __init__(self, grants: Iterable[Grant]) -> None:
        self._grants = tuple(grants)

    def identify(self, token: str) -> Grant | None:
        digest = hashlib.sha256(token.encode()).digest()
        found = None
        for grant in self._grants:  # every one, matched or not
            if hmac.compare_digest(digest, grant.digest) and found is None:
                found = grant
        return found


def _bearer_token(metadata: Iterable[tuple[str, str | bytes]] | None) -> str | None:
    """The token of the call's `authorization: Bearer` header; "" when the header is malformed,
    None when there is none."""
    for key, value in metadata or ():
        if key == "authorization":
            scheme, _, token = str(value).partition(" ")
            return token.strip() if scheme.lower() == "bearer" else ""
    return None


def _refusal(kind: ErrorKind, reason: str, message: str, **metadata: str) -> grpc.Status:
    return to_grpc_status(HoldfastError(kind, reason, message, metadata=metadata), SECURITY_DOMAIN)


_NO_TOKEN = _refusal(
    ErrorKind.UNAUTHENTICATED,
    "TOKEN_MISSING",
    "this call needs a bearer token: send the metadata 'authorization: Bearer <token>'",
)
_BAD_TOKEN = _refusal(ErrorKind.UNAUTHENTICATED, "TOKEN_INVALID", "the bearer token is not valid")


class AuthInterceptor(HandlerInterceptor):
    """Lets a call through only with a valid token holding the scope its method needs; names
    the caller for the call log and the rate limit. Refusals never reach the servicer."""

    def __init__(
        self,
        authority: TokenAuthority,
        *,
        open_prefixes: tuple[str, ...] = (),
        any_scope_prefixes: tuple[str, ...] = (),
        method_scopes: Mapping[str, str] = METHOD_SCOPES,
    ) -> None:
        super().__init__(open_prefixes)
        self._authority = authority
        self._any_scope = any_scope_prefixes
        self._scopes = method_scopes
        # By (method, status): a refused method's refusing handler is made once.
        self._refusing = WrappedHandlers()

    def handler_for(self, details: grpc.HandlerCallDetails, handler: Handler) -> Handler:
        refusal = self._check(details.method, details.invocation_metadata)
        if refusal is None:
            return handler
        return self._refusing.get(
            (details.method, id(refusal)), handler, lambda h: gate_handler(h, refuse_always(refusal))
        )

    def _check(self, method: str, metadata: Any) -> grpc.Status | None:
        token = _bearer_token(metadata)
        if token is None:
            return _NO_TOKEN
        grant = self._authority.identify(token) if token else None
        if grant is None:
            return _BAD_TOKEN
        current_caller.set(grant.caller)  # a refusal below is logged under the caller too
        if not method.startswith(self._any_scope):
            scope = self._scopes.get(method)
            if scope is None:
                return _unmapped(method)
            if scope not in grant.scopes:
                return _scope_missing(method, scope)
        return None


@functools.cache
def _unmapped(method: str) -> grpc.Status:
    return _refusal(
        ErrorKind.PERMISSION_DENIED, "METHOD_NOT_MAPPED", "no scope grants this method", method=method
    )


@functools.cache
def _scope_missing(method: str, scope: str) -> grpc.Status:
    return _refusal(
        ErrorKind.PERMISSION_DENIED,
        "SCOPE_MISSING",
        f"this call needs a token with the scope {scope}",
        method=method,
        scope=scope,
    )


def auth_interceptor(security: SecuritySettings) -> AuthInterceptor | None:
    """The interceptor the settings ask for, or None when auth is off."""
    grants = load_grants(security)
    enabled = security.auth_enabled if security.auth_enabled is not None else bool(grants)
    if not enabled:
        return None
    if not grants:
        raise SecurityConfigError("AUTH_ENABLED is true but AUTH_TOKENS / AUTH_TOKENS_FILE list no token")
    open_prefixes: list[str] = []
    any_scope: list[str] = []
    (open_prefixes if security.auth_open_health else any_scope).append(HEALTH_PREFIX)
    (open_prefixes if security.auth_open_reflection else any_scope).extend(REFLECTION_PREFIXES)
    return AuthInterceptor(
        TokenAuthority(grants), open_prefixes=tuple(open_prefixes), any_scope_prefixes=tuple(any_scope)
    )

"""Outbound channels as the settings ask: TLS or plaintext, and the bearer token to send."""

from __future__ import annotations

from collections.abc import Sequence

import grpc

from holdfast_common.security.tls import channel_credentials
from holdfast_common.settings import SecuritySettings


def open_channel(target: str, security: SecuritySettings) -> grpc.Channel:
    """A sync channel to `target`, over TLS when the settings ask for it."""
    credentials = channel_credentials(security)
    if credentials is None:
        return grpc.insecure_channel(target)
    return grpc.secure_channel(target, credentials)


def open_aio_channel(
    target: str, security: SecuritySettings, interceptors: Sequence[grpc.aio.ClientInterceptor] | None = None
) -> grpc.aio.Channel:
    """An asyncio channel to `target`, over TLS when the settings ask for it."""
    credentials = channel_credentials(security)
    if credentials is None:
        return grpc.aio.insecure_channel(target, interceptors=interceptors)
    return grpc.aio.secure_channel(target, credentials, interceptors=interceptors)


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    """Call metadata carrying `token` (none when it is empty)."""
    return (("authorization", f"Bearer {token}"),) if token else ()

"""Who is calling: the auth interceptor names the caller, the call log and rate limit read it."""

from __future__ import annotations

from contextvars import ContextVar

# Set for the call's own task, so it never leaks into another call; None when auth is off
# or the method is open.
current_caller: ContextVar[str | None] = ContextVar("holdfast_current_caller", default=None)


def peer_host(peer: str) -> str:
    """The address part of a grpc peer string: "ipv4:10.0.0.7:5123" -> "10.0.0.7",
    "ipv6:[::1]:5123" -> "::1"; anything else as it is."""
    scheme, _, rest = peer.partition(":")
    if scheme not in ("ipv4", "ipv6"):
        return peer
    return rest.rpartition(":")[0].strip("[]")

"""An optional per-caller rate limit: a token bucket per caller, kept in process memory.

The caller is the token's caller name when auth is on, else the peer's IP address. Each
replica counts its own calls, so N replicas admit up to N times the rate. Health checks are
exempt. Past the limit a call is RESOURCE_EXHAUSTED (reason RATE_LIMITED) with a RetryInfo
saying when a token will be there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from holdfast_common.errors import ErrorKind, HoldfastError
from holdfast_common.rpc.gated_handlers import Handler, HandlerInterceptor, WrappedHandlers, gate_handler
from holdfast_common.rpc.status import status_proto
from holdfast_common.security.auth import HEALTH_PREFIX, SECURITY_DOMAIN
from holdfast_common.security.caller import current_caller, peer_host

# Buckets kept at most; past it the least recently used goes (its caller starts full again).
MAX_BUCKETS = 10_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


class TokenBuckets:
    """`rate` tokens a second per key, up to `burst` saved. Buckets live in least-recently-used
    order; one idle long enough to refill is dropped, as a new one would be the same."""

    def __init__(
        self,
        rate: float,
        burst: int,
        max_buckets: int = MAX_BUCKETS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self._rate = rate
        self._burst = float(burst)
        self._refill_seconds = burst / rate
        self._max = max_buckets
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}  # insertion order = least recently used first

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str) -> float:
        """Takes a token for `key`: 0.0 when there was one, else the seconds until there will be."""
        now = self._clock()
        self._drop_idle(now)
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            bucket = _Bucket(self._burst, now)
        else:
            bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.stamp) * self._rate)
            bucket.stamp = now
        wait = 0.0
        if bucket.tokens >= 1:
            bucket.tokens -= 1
        else:
            wait = (1 - bucket.tokens) / self._rate
        self._buckets[key] = bucket
        while len(self._buckets) > self._max:
            del self._buckets[next(iter(self._buckets))]
        return wait

    def _drop_idle(self, now: float) -> None:
        while self._buckets:
            key = next(iter(self._buckets))
            if now - self._buckets[key].stamp < self._refill_seconds:
                return
            del self._buckets[key]


def rate_limited_status(wait: float, rate: float, burst: int) -> grpc.Status:
    """RESOURCE_EXHAUSTED / RATE_LIMITED with a RetryInfo of `wait` seconds."""
    error = HoldfastError(
        ErrorKind.RESOURCE_EXHAUSTED,
        "RATE_LIMITED",
        f"too many calls: at most {rate:g} a second, bursts of {burst}; retry later",
        metadata={"rate_per_second": f"{rate:g}", "burst": str(burst)},
    )
    status = status_proto(error, SECURITY_DOMAIN)
    delay = duration_pb2.Duration()
    delay.FromNanoseconds(max(1_000_000, int(wait * 1e9)))  # at least 1 ms: never "retry now"
    retry = any_pb2.Any()
    retry.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
    status.details.append(retry)
    return rpc_status.to_status(status)


class RateLimitInterceptor(HandlerInterceptor):
    """Refuses a caller's calls beyond its bucket before they reach the servicer."""

    def __init__(self, rate: float, burst: int, exempt_prefixes: tuple[str, ...] = (HEALTH_PREFIX,)) -> None:
        super().__init__(exempt_prefixes)
        self._buckets = TokenBuckets(rate, burst)
        self._rate = rate
        self._burst = burst
        self._gated = WrappedHandlers()

    def handler_for(self, details: grpc.HandlerCallDetails, handler: Handler) -> Handler:
        return self._gated.get(details.method, handler, lambda h: gate_handler(h, self._gate))

    def _gate(self, context: grpc.aio.ServicerContext) -> grpc.Status | None:
        caller = current_caller.get() or peer_host(context.peer())
        wait = self._buckets.take(caller)
        return rate_limited_status(wait, self._rate, self._burst) if wait else None

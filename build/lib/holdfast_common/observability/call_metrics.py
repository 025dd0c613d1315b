"""The metrics of every gRPC call a service handles (names as go-grpc-prometheus has them)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

CALLS = Counter(
    "grpc_server_handled",
    "gRPC calls completed, by service, method and status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
)
# From the first byte of the request to the status; for a stream, until it ends.
SECONDS = Histogram(
    "grpc_server_handling_seconds",
    "Time a gRPC call took on the server.",
    ["grpc_service", "grpc_method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
# Refusals by their google.rpc.ErrorInfo reason: INSUFFICIENT_STOCK, HOLD_EXPIRED, LOCK_TIMEOUT...
REFUSALS = Counter(
    "holdfast_refusals",
    "Failed gRPC calls by the ErrorInfo reason of their status.",
    ["grpc_service", "grpc_method", "reason"],
)

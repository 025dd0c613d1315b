"""The /metrics HTTP endpoint of a process (prometheus-client's own server, in a thread)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import REGISTRY, start_http_server
from prometheus_client.registry import Collector


def serve_metrics(host: str, port: int, registry: Collector = REGISTRY) -> Callable[[], None]:
    """Serves `registry` on host:port in a daemon thread; returns what stops it and frees the port."""
    server, thread = start_http_server(port, addr=host, registry=registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop

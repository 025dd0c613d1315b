"""The worker's /metrics: what every worker process recorded, summed from their shared files.

Dramatiq runs `serve` as a fork process beside the workers (`--fork-function`); the workers
write their metrics to PROMETHEUS_MULTIPROC_DIR, which sweeper.worker sets before they start.
"""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from holdfast_common.observability.logs import configure_logging
from holdfast_common.observability.metrics_http import serve_metrics
from holdfast_common.settings import SweeperProcessSettings


def serve() -> int:
    """Serves the workers' metrics until dramatiq stops this process (SIGTERM ends the wait)."""
    observability = SweeperProcessSettings.from_environment().observability
    configure_logging(observability.log_level)
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    serve_metrics(observability.metrics_host, observability.sweeper_worker_metrics_port, registry)
    threading.Event().wait()
    return 0

"""The worker process: dramatiq's own supervisor running the expire_holds actor."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

from holdfast_common.settings import SweeperProcessSettings

# One process with two threads: the runs of both default partitions sweep at once
# (SWEEPER_PARTITIONS beyond the threads need more workers, on any machine sharing
# Redis), and a message that finds them taken does not wait behind a long run.
DEFAULTS = ["--processes", "1", "--threads", "2", "--worker-shutdown-timeout", "10000"]
# Milliseconds an idle worker waits between looks for a message; dramatiq's default
# (1000) would start each tick's runs up to a second late. An environment value wins.
IDLE_POLL_MS = "100"


def main(extra_args: list[str]) -> int:
    """`python -m sweeper worker [dramatiq options]`: options given override the defaults."""
    settings = SweeperProcessSettings.from_environment()
    if not settings.database.for_service("sweeper").database_url or not settings.sweeper.redis_url:
        print("sweeper worker: DATABASE_URL and REDIS_URL must be set", file=sys.stderr)
        return 2
    os.environ.setdefault("dramatiq_worker_timeout", IDLE_POLL_MS)
    metrics_args: list[str] = []
    metrics_dir = ""
    if settings.observability.sweeper_worker_metrics_port:
        # Each worker process writes its metrics to files here (prometheus-client's
        # multiprocess mode, chosen as it is first imported); the fork process serves their sum.
        # A directory of this run's own, so no dead run's counts are added in.
        metrics_dir = tempfile.mkdtemp(prefix="holdfast-sweeper-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        metrics_args = ["--fork-function", "sweeper.exposition:serve"]
    from dramatiq import cli  # reads dramatiq_worker_timeout as it is first imported

    # The parent imports nothing of the sweeper: each forked worker process imports
    # sweeper.app itself, so no connection is ever shared across a fork.
    args = cli.make_argument_parser().parse_args(
        ["sweeper.app:broker", *DEFAULTS, *metrics_args, *extra_args]
    )
    try:
        return int(cli.main(args) or 0)
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)

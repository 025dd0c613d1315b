"""What the scheduler does, in its own process's registry (apart from the worker's files)."""

from prometheus_client import Counter, Gauge

LEADING = Gauge(
    "holdfast_sweeper_scheduler_leading",
    "1 while this scheduler holds the leader lock and sends the runs, else 0.",
)
RUNS_SENT = Counter(
    "holdfast_sweeper_runs_sent",
    "expire_holds messages this scheduler sent.",
)

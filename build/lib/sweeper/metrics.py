"""What the sweeper worker has done, as prometheus-client objects (served by sweeper.exposition)."""

from prometheus_client import Counter, Gauge, Histogram

HOLDS_EXPIRED = Counter(
    "holdfast_sweeper_holds_expired",
    "Overdue holds the sweeper moved to EXPIRED.",
)
BATCH_SECONDS = Histogram(
    "holdfast_sweeper_batch_duration_seconds",
    "Duration of one expiry batch transaction.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
OLDEST_OVERDUE_SECONDS = Gauge(
    "holdfast_sweeper_oldest_overdue_hold_age_seconds",
    "Seconds the oldest ACTIVE hold was past its expire_time when last measured (0: none).",
    # Several worker processes measure it: the latest measurement is the one that counts.
    multiprocess_mode="mostrecent",
)
IDEMPOTENCY_KEYS_PURGED = Counter(
    "holdfast_sweeper_idempotency_keys_purged",
    "Idempotency records deleted after their retention.",
)

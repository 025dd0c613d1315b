"""The sweeper: its Redis, its schedule, and how much each run does."""

from __future__ import annotations

from pydantic import Field

from holdfast_common.settings.section import Section


class SweeperSettings(Section):
    """The scheduler sends expire_holds every interval; one run expires holds a batch per
    transaction until none is overdue or its budget is spent, then purges old request_ids."""

    redis_url: str = Field(
        default="",
        description="Redis URL of the sweeper's queue; unset under `make run`/`make test` means embedded",
    )
    sweeper_redis_namespace: str = Field(
        default="holdfast",
        min_length=1,
        description="prefix of the sweeper's Redis keys (queue, results, leader lock), so deployments can "
        "share a Redis",
    )
    sweeper_interval_seconds: float = Field(
        default=5.0, gt=0, description="how often the leading scheduler sends `expire_holds`"
    )
    sweeper_batch_size: int = Field(
        default=500, gt=0, description="holds expired (and idempotency records purged) per transaction"
    )
    # The scheduler sends this many messages per tick, so as many runs (worker threads) sweep at once.
    sweeper_partitions: int = Field(
        default=2,
        ge=1,
        le=8,
        description="sweeper runs that work side by side, one partition of the overdue holds each "
        "(1-8; every process must use the same value)",
    )
    sweeper_time_budget_seconds: float = Field(
        default=30.0, gt=0, description="a run stops starting batches after this long"
    )
    # docs/contract.md ("Idempotency") promises request_ids are kept at least 24 h.
    idempotency_retention_hours: float = Field(
        default=24.0, ge=24, description="request_ids older than this are purged (at least 24)"
    )
    sweeper_leader_ttl_seconds: float = Field(
        default=15.0, gt=0, description="a dead leading scheduler is replaced within this long"
    )

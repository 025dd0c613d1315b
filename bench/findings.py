"""Everything one bench run found, as the phases fill it in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.bulk_set import BulkSetResult
from bench.catalog_import import ImportResult
from bench.event_feed import FeedResult
from bench.measurement import Measurement
from bench.pgbench_baseline import MATCHES
from bench.security import PLAIN
from bench.sweep import SweepResult


@dataclass
class Results:
    """The measurements, baselines, sweeper, memory and audit of one run, with its set-up."""

    config: dict[str, Any]
    # How the calls were made: bench.security.PLAIN or SECURE, so figures are never mixed up.
    security: str = PLAIN
    facts: dict[str, str] = field(default_factory=dict)
    measurements: list[Measurement] = field(default_factory=list)
    pgbench: list[Measurement] = field(default_factory=list)
    sweeper: SweepResult | None = None
    catalog_import: ImportResult | None = None
    bulk_set: BulkSetResult | None = None
    event_feed: FeedResult | None = None
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    breaches: dict[str, list[str]] | None = None
    wall_seconds: float = 0.0

    def find(self, scenario: str, concurrency: int) -> Measurement | None:
        return next(
            (m for m in self.measurements if m.scenario == scenario and m.concurrency == concurrency), None
        )

    def pgbench_for(self, scenario: str, concurrency: int) -> Measurement | None:
        """The raw-SQL figure of the same transaction, when it ran at the same concurrency."""
        for run in self.pgbench:
            name = run.scenario.removeprefix("pgbench ")
            if scenario in MATCHES.get(name, ()) and run.concurrency == concurrency:
                return run
        return None

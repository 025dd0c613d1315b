"""One measured run of a scenario: throughput, latency percentiles and every error."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Measurement:
    scenario: str
    concurrency: int
    seconds: float
    # Calls (or transactions) that succeeded inside the measured window.
    ok: int
    rps: float
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    # Failed calls by gRPC status code name (or pgbench failure kind), warm-up included.
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Measurement:
        return cls(**data)


def percentile(ordered: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not ordered:
        return None
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summarize(
    scenario: str,
    concurrency: int,
    seconds: float,
    latencies_ms: list[float],
    errors: dict[str, int],
    *,
    rps: float | None = None,
) -> Measurement:
    """A Measurement from the successful calls' latencies; rps defaults to calls / seconds."""
    ordered = sorted(latencies_ms)
    return Measurement(
        scenario=scenario,
        concurrency=concurrency,
        seconds=round(seconds, 3),
        ok=len(ordered),
        rps=round(rps if rps is not None else (len(ordered) / seconds if seconds > 0 else 0.0), 1),
        p50_ms=_round(percentile(ordered, 0.50)),
        p99_ms=_round(percentile(ordered, 0.99)),
        max_ms=_round(ordered[-1] if ordered else None),
        errors=dict(sorted(errors.items())),
    )


def ms(value: float | None) -> str:
    """Milliseconds as the tables show them."""
    return "-" if value is None else f"{value:.1f}"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)

"""The performance targets (docs/performance.md), judged on one run's findings: PASS, FAIL, or n/a
when the run did not measure what a target needs."""

from __future__ import annotations

from dataclasses import dataclass

from bench.bulk_set import BulkSetResult
from bench.catalog_import import IMPORT_TARGET_VARIANTS, ImportResult
from bench.findings import Results
from bench.measurement import ms
from bench.sweep import SweepResult

TARGET_CONCURRENCY = 64
SWEEPER_TARGET_HOLDS = 100_000
RSS_LIMIT_MB = 150.0
# The multi-location scenarios: spread's CreateHold through a channel of three locations, so
# they are judged against spread in the same run.
SPREAD_PEERS = ("multi-priority", "multi-fewest")
BULK_TARGET_ROWS = 1000
BULK_LIMIT_MS = 250.0
# Tailing consumers cost the reserve path at most this share of its throughput.
FEED_TAILED_SHARE = 0.9
FEED_CATCH_UP_RATE = 20_000


@dataclass(frozen=True)
class Verdict:
    target: str
    outcome: str  # PASS, FAIL or n/a
    detail: str


def _ratio_target(
    results: Results,
    scenarios: tuple[str, ...],
    share: float,
    *,
    baseline: str = "echo",
    p99_limit: float | None = None,
) -> Verdict:
    """Every scenario of `scenarios` that ran at TARGET_CONCURRENCY reaches `share` x the
    baseline's rps in the same run (and p99 <= `p99_limit`), without errors; n/a when the
    baseline or all of them did not run."""
    name = f"{' and '.join(scenarios)} CreateHold at {TARGET_CONCURRENCY}: >= {share} x {baseline}" + (
        f", p99 <= {p99_limit:.0f} ms" if p99_limit else ""
    )
    base = results.find(baseline, TARGET_CONCURRENCY)
    runs = {s: results.find(s, TARGET_CONCURRENCY) for s in scenarios}
    if base is None or base.rps == 0 or not any(runs.values()):
        return Verdict(name, "n/a", f"{' or '.join((*scenarios, baseline))} not run at {TARGET_CONCURRENCY}")
    passed, details = True, []
    for scenario, run in runs.items():
        if run is None:
            details.append(f"{scenario} not run")
            continue
        ratio = run.rps / base.rps
        passed = passed and ratio >= share and run.error_count == 0
        detail = f"{run.rps:,.0f} rps = {ratio:.2f} x {baseline}"
        if p99_limit is not None:
            passed = passed and run.p99_ms is not None and run.p99_ms <= p99_limit
            detail += f", p99 {ms(run.p99_ms)} ms"
        if run.error_count:
            detail += f", {run.error_count} errors"
        details.append(f"{scenario} {detail}" if len(scenarios) > 1 else detail)
    details.append(f"{baseline} {base.rps:,.0f} rps")
    return Verdict(name, "PASS" if passed else "FAIL", "; ".join(details))


def _sweeper_targets(sweep: SweepResult | None) -> list[Verdict]:
    clear = f"sweeper clears {SWEEPER_TARGET_HOLDS:,} overdue holds in <= 10 s"
    calm = "reservers' p99 <= 250 ms while it sweeps"
    if sweep is None:
        return [Verdict(clear, "n/a", "not run"), Verdict(calm, "n/a", "not run")]
    taken = f"{sweep.seconds:.2f} s" if sweep.seconds is not None else f"not cleared, {sweep.left:,} left"
    if sweep.holds != SWEEPER_TARGET_HOLDS:
        cleared = Verdict(clear, "n/a", f"ran {sweep.holds:,} holds: {taken}")
    else:
        fast = sweep.seconds is not None and sweep.seconds <= 10
        cleared = Verdict(clear, "PASS" if fast else "FAIL", taken)
    p99 = sweep.reservers.p99_ms
    ok = p99 is not None and p99 <= 250 and sweep.reservers.error_count == 0
    detail = f"p99 {ms(p99)} ms, {sweep.reservers.error_count} errors"
    return [cleared, Verdict(calm, "PASS" if ok else "FAIL", detail)]


IMPORT_LIMIT_SECONDS = 30.0


def _import_target(result: ImportResult | None) -> Verdict:
    name = (
        f"`holdfast import` of {IMPORT_TARGET_VARIANTS:,} variants with stock <= {IMPORT_LIMIT_SECONDS:.0f} s"
    )
    if result is None:
        return Verdict(name, "n/a", "not run")
    detail = f"{result.seconds:.1f} s, {result.rows_per_second:,.0f} rows/s"
    if not result.ok:
        imported = f"{result.imported_variants:,} of {result.variants:,}"
        detail += f", exit {result.exit_code}, {imported} variants imported"
    if result.variants != IMPORT_TARGET_VARIANTS:
        return Verdict(name, "n/a", f"ran {result.variants:,} variants: {detail}")
    passed = result.ok and result.seconds <= IMPORT_LIMIT_SECONDS
    return Verdict(name, "PASS" if passed else "FAIL", detail)


def _bulk_set_targets(bulk: BulkSetResult | None) -> list[Verdict]:
    """A sync of BULK_TARGET_ROWS SET rows is fast, and shoppers on the same SKUs barely feel it."""
    fast = f"BatchUpdateStock of {BULK_TARGET_ROWS:,} SET rows: p50 <= {BULK_LIMIT_MS:.0f} ms"
    calm = f"reservers' p99 <= {BULK_LIMIT_MS:.0f} ms while it syncs their SKUs"
    if bulk is None:
        return [Verdict(fast, "n/a", "not run"), Verdict(calm, "n/a", "not run")]
    batches, reservers = bulk.batches, bulk.reservers
    detail = f"p50 {ms(batches.p50_ms)} ms, p99 {ms(batches.p99_ms)} ms, {batches.error_count} errors"
    if bulk.rows != BULK_TARGET_ROWS:
        synced = Verdict(fast, "n/a", f"ran {bulk.rows:,} rows: {detail}")
    else:
        ok = batches.p50_ms is not None and batches.p50_ms <= BULK_LIMIT_MS and batches.error_count == 0
        synced = Verdict(fast, "PASS" if ok else "FAIL", detail)
    p99 = reservers.p99_ms
    ok = p99 is not None and p99 <= BULK_LIMIT_MS and reservers.error_count == 0
    detail = f"p99 {ms(p99)} ms, {reservers.error_count} errors"
    return [synced, Verdict(calm, "PASS" if ok else "FAIL", detail)]


def _feed_targets(results: Results) -> list[Verdict]:
    feed = results.event_feed
    tailed = f"hot and spread with consumers tailing the event feed: >= {FEED_TAILED_SHARE} x without"
    fast = f"a consumer catching up reads >= {FEED_CATCH_UP_RATE:,} events/s"
    if feed is None:
        return [Verdict(tailed, "n/a", "not run"), Verdict(fast, "n/a", "not run")]
    passed, details = True, []
    for without, run in zip(feed.without_consumers(), feed.tailed, strict=True):
        ratio = run.rps / without
        passed = passed and ratio >= FEED_TAILED_SHARE and run.error_count == 0
        details.append(
            f"{run.scenario} {run.rps:,.0f} rps = {ratio:.2f} x {without:,.0f} (the mean of the runs without "
            f"consumers around it; at {run.concurrency}, {feed.consumers} consumers)"
        )
    outcome = "PASS" if passed else "FAIL"
    rate = feed.catch_up_rate
    caught = f"{feed.catch_up_events:,} events in {feed.catch_up_seconds:.2f} s = {rate:,.0f} events/s"
    # Too few events to time is no verdict.
    fast_outcome = (
        "n/a" if feed.catch_up_events < 10_000 else ("PASS" if rate >= FEED_CATCH_UP_RATE else "FAIL")
    )
    return [Verdict(tailed, outcome, "; ".join(details)), Verdict(fast, fast_outcome, caught)]


def verdicts(results: Results) -> list[Verdict]:
    """Every target; a target with errors in its scenario never passes."""
    found = [
        _ratio_target(results, ("hot",), 0.8, p99_limit=100.0),
        _ratio_target(results, ("spread",), 0.8, p99_limit=100.0),
        # The floor: what the project promises even on a small shared machine.
        _ratio_target(results, ("hot", "spread"), 0.55),
        _ratio_target(results, SPREAD_PEERS, 0.85, baseline="spread"),
        _ratio_target(results, ("cart5",), 0.6),
        _ratio_target(results, ("priced",), 0.4),
        *_sweeper_targets(results.sweeper),
        _import_target(results.catalog_import),
        *_bulk_set_targets(results.bulk_set),
        *_feed_targets(results),
    ]
    for name, mb in results.peak_rss_mb.items():
        outcome = "PASS" if mb <= RSS_LIMIT_MB else "FAIL"
        found.append(Verdict(f"{name} peak RSS <= {RSS_LIMIT_MB:.0f} MB", outcome, f"{mb:.0f} MB"))
    return found

"""A run's results shown: the table with its ratios, the targets, and the JSON and
Markdown files in the results folder."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.catalog_import import ImportResult
from bench.findings import Results
from bench.measurement import Measurement, ms
from bench.security import PLAIN
from bench.targets import SPREAD_PEERS, verdicts


def progress(run: Measurement) -> str:
    """One line per measurement as the run goes."""
    errors = f", errors {run.errors}" if run.errors else ""
    return (
        f"  {run.scenario:<16} c={run.concurrency:<3} {run.rps:>9,.0f} rps  "
        f"p50 {ms(run.p50_ms):>7} ms  p99 {ms(run.p99_ms):>7} ms{errors}"
    )


def _errors(run: Measurement) -> str:
    if not run.errors:
        return "0"
    return f"{run.error_count} (" + ", ".join(f"{code} {n}" for code, n in run.errors.items()) + ")"


def _markdown(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)]


def table(results: Results) -> list[str]:
    """scenario, concurrency, rps, p50, p99, errors, and the ratios to the baselines (to spread
    for the multi-location scenarios, which are spread through a channel of three locations)."""
    header = [
        "scenario",
        "concurrency",
        "rps",
        "p50 ms",
        "p99 ms",
        "errors",
        "x echo",
        "x pgbench",
        "x spread",
    ]
    rows = []
    runs = [*results.pgbench, *results.measurements]
    if results.sweeper is not None:
        runs.append(results.sweeper.reservers)
    bulk = results.bulk_set
    if bulk is not None:
        runs += [bulk.batches, bulk.reservers]
    for run in runs:
        is_sweep = results.sweeper is not None and run is results.sweeper.reservers
        is_bulk = bulk is not None and run is bulk.reservers
        is_baseline = run.scenario.startswith("pgbench")
        echo = None if is_baseline else results.find("echo", run.concurrency)
        sql = (
            None if is_baseline or is_sweep or is_bulk else results.pgbench_for(run.scenario, run.concurrency)
        )
        spread = results.find("spread", run.concurrency) if run.scenario in SPREAD_PEERS else None
        rows.append(
            [
                "spread during sweep" if is_sweep else "spread during bulk-set" if is_bulk else run.scenario,
                str(run.concurrency),
                f"{run.rps:,.0f}",
                ms(run.p50_ms),
                ms(run.p99_ms),
                _errors(run),
                f"{run.rps / echo.rps:.2f}" if echo and echo.rps else "-",
                f"{run.rps / sql.rps:.2f}" if sql and sql.rps else "-",
                f"{run.rps / spread.rps:.2f}" if spread and spread.rps else "-",
            ]
        )
    return _markdown(header, rows)


def _sweeper_lines(results: Results) -> list[str]:
    sweep = results.sweeper
    if sweep is None:
        return []
    taken = f"{sweep.seconds:.2f} s" if sweep.seconds is not None else f"NOT cleared ({sweep.left:,} left)"
    shoppers = sweep.reservers
    calm = results.find("spread", shoppers.concurrency)
    without = f"; without it: p50 {ms(calm.p50_ms)} ms, p99 {ms(calm.p99_ms)} ms" if calm else ""
    return [
        f"Sweeper: {sweep.holds:,} overdue holds cleared in {taken} from the scheduler's start, "
        f"while {shoppers.concurrency} callers ran spread CreateHolds "
        f"(p50 {ms(shoppers.p50_ms)} ms, p99 {ms(shoppers.p99_ms)} ms{without}).",
    ]


def import_line(result: ImportResult) -> str:
    outcome = (
        ""
        if result.ok
        else f" (exit {result.exit_code}, {result.imported_variants:,} variants in the database)"
    )
    return (
        f"Import: `holdfast import` of {result.variants:,} variants ({result.rows:,} rows) in "
        f"{result.seconds:.1f} s, {result.rows_per_second:,.0f} rows/s{outcome}."
    )


def _import_lines(results: Results) -> list[str]:
    return [import_line(results.catalog_import)] if results.catalog_import else []


def _bulk_set_lines(results: Results) -> list[str]:
    bulk = results.bulk_set
    if bulk is None:
        return []
    batches, shoppers = bulk.batches, bulk.reservers
    return [
        f"Bulk set: {batches.ok} BatchUpdateStock calls of {bulk.rows:,} SET rows, one after another "
        f"(p50 {ms(batches.p50_ms)} ms, p99 {ms(batches.p99_ms)} ms), while {shoppers.concurrency} "
        f"callers ran spread CreateHolds on the same SKUs "
        f"(p50 {ms(shoppers.p50_ms)} ms, p99 {ms(shoppers.p99_ms)} ms).",
    ]


def feed_lines(results: Results) -> list[str]:
    feed = results.event_feed
    if feed is None:
        return []
    runs = ", ".join(
        f"{m.scenario} {m.rps:,.0f} rps (p99 {ms(m.p99_ms)} ms; alone just before {a.rps:,.0f} rps, "
        f"just after {b.rps:,.0f} rps)"
        for a, m, b in zip(feed.alone, feed.tailed, feed.alone_after or feed.alone, strict=True)
    )
    return [
        f"Event feed: {feed.consumers} consumers tailing StreamStockEvents while {runs}, each got "
        f"{min(feed.tailed_events, default=0):,}+ events; catch-up read of {feed.catch_up_events:,} events "
        f"at {feed.catch_up_rate:,.0f} events/s.",
    ]


def _audit_line(breaches: dict[str, list[str]] | None) -> str:
    if breaches is None:
        return "Audit: not run"
    if not breaches:
        return "Audit: every invariant holds"
    return "Audit: BROKEN: " + "; ".join(f"{name} ({len(rows)})" for name, rows in breaches.items())


def _security_line(results: Results) -> str:
    if results.security == PLAIN:
        return f"security: {results.security}"
    # Health is open under auth (AUTH_OPEN_HEALTH), so the echo pays for TLS but not the token check.
    return f"security: {results.security} (echo: mTLS, token sent, health open so not checked)"


def summary(results: Results) -> list[str]:
    """What the terminal shows at the end: the table, the sweeper, memory, targets, audit."""
    lines = [
        _security_line(results),
        *table(results),
        "",
        *_sweeper_lines(results),
        *_bulk_set_lines(results),
        *feed_lines(results),
        *_import_lines(results),
    ]
    if results.peak_rss_mb:
        lines.append("Peak RSS: " + ", ".join(f"{n} {mb:.0f} MB" for n, mb in results.peak_rss_mb.items()))
    lines += ["", "Targets:"]
    lines += [f"  {v.outcome:<4}  {v.target}: {v.detail}" for v in verdicts(results)]
    lines += ["", _audit_line(results.breaches), f"Wall time: {results.wall_seconds:.0f} s"]
    return lines


def markdown(results: Results) -> str:
    targets = verdicts(results)
    facts = [f"- {key}: {value}" for key, value in results.facts.items()]
    config = ", ".join(f"{k}={v}" for k, v in results.config.items())
    return "\n".join(
        [
            "# holdfast bench",
            "",
            *facts,
            f"- {_security_line(results)}",
            f"- configuration: {config}",
            f"- wall time: {results.wall_seconds:.0f} s",
            "",
            *table(results),
            "",
            *_sweeper_lines(results),
            *_bulk_set_lines(results),
            *feed_lines(results),
            *_import_lines(results),
            "",
            "| process | peak RSS MB |",
            "|---|---|",
            *(f"| {name} | {mb:.0f} |" for name, mb in results.peak_rss_mb.items()),
            "",
            "## Targets",
            "",
            *_markdown(["target", "outcome", "measured"], [[v.target, v.outcome, v.detail] for v in targets]),
            "",
            _audit_line(results.breaches),
            "",
        ]
    )


def to_json(results: Results) -> dict[str, Any]:
    return {
        "security": results.security,
        "config": results.config,
        "facts": results.facts,
        "wall_seconds": round(results.wall_seconds, 1),
        "measurements": [m.to_json() for m in results.measurements],
        "pgbench": [m.to_json() for m in results.pgbench],
        "sweeper": results.sweeper.to_json() if results.sweeper else None,
        "import": results.catalog_import.to_json() if results.catalog_import else None,
        "bulk_set": results.bulk_set.to_json() if results.bulk_set else None,
        "event_feed": results.event_feed.to_json() if results.event_feed else None,
        "peak_rss_mb": {name: round(mb, 1) for name, mb in results.peak_rss_mb.items()},
        "targets": [asdict(v) for v in verdicts(results)],
        "audit": {"breaches": results.breaches},
    }


def write(results: Results, folder: Path, stamp: str) -> tuple[Path, Path]:
    """<stamp>.json and <stamp>.md in `folder`, and latest.md as a copy of the Markdown."""
    folder.mkdir(parents=True, exist_ok=True)
    json_path, md_path = folder / f"{stamp}.json", folder / f"{stamp}.md"
    json_path.write_text(json.dumps(to_json(results), indent=2) + "\n")
    md_path.write_text(markdown(results))
    shutil.copyfile(md_path, folder / "latest.md")
    return json_path, md_path

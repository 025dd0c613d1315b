"""`make bench` / `make bench-quick`: the whole stack measured against its baselines in one run.

    .venv/bin/python -m bench [--quick] [--secure] [--concurrency 1,16,64] [--duration 10] ...

Starts the stack on a scratch database (DATABASE_URL/REDIS_URL's servers, or embedded
ones), measures the pgbench ceiling and the gRPC echo ceiling, drives every scenario with
bench.load, times BatchUpdateStock of 1,000 SET rows while shoppers reserve the same SKUs
(bulk-set), runs hot and spread again while 4 consumers tail the stock event feed and times a
catch-up read of the feed (event feed), clears a backlog of overdue holds with the sweeper
under load, times `holdfast import` of a generated 100,000-variant catalog file, records each
process's peak RSS, audits every invariant, then prints the table and writes
bench/results/<timestamp>.json|.md and latest.md. Exits non-zero on a crash or a broken
invariant; missed targets are findings, not failures. With --secure every call (the echo
included) goes over mutual TLS with a bearer token; the report says which it was.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from bench import report
from bench.bulk_set import bulk_set_under_load
from bench.catalog import seed_catalog
from bench.catalog_import import IMPORT_TARGET_VARIANTS, import_with_cli
from bench.drivers import measure
from bench.event_feed import feed_under_load
from bench.facts import machine_facts
from bench.findings import Results
from bench.pgbench_baseline import MATCHES, find_pgbench, run_script
from bench.security import PLAIN, SECURE, StackSecurity
from bench.skus import SkuSet
from bench.stack import Services, migrated_scratch_database
from bench.sweep import sweep_under_load
from bench.targets import TARGET_CONCURRENCY
from bench.workloads import SCENARIOS
from holdfast_dev.infra import infrastructure
from holdfast_ops.audit import find_breaches
from tests.support.paths import REPO_ROOT
from tests.support.processes import ProcessFailed

SKU_PREFIX = "BENCH"
# Defaults of a full run and of --quick; an option given on the command line wins.
FULL = dict(
    concurrency="1,16,64",
    duration=10.0,
    warmup=2.0,
    pgbench_seconds=10,
    sweeper_holds=100_000,
    bulk_batches=20,
    import_variants=IMPORT_TARGET_VARIANTS,
)
QUICK = dict(
    concurrency="64",
    duration=3.0,
    warmup=1.0,
    pgbench_seconds=3,
    sweeper_holds=20_000,
    bulk_batches=10,
    import_variants=20_000,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="concurrency 64, short runs, smaller backlog")
    parser.add_argument(
        "--secure",
        action="store_true",
        help="mutual TLS on every hop, bearer tokens on both services (fresh certificates and tokens)",
    )
    parser.add_argument("--concurrency", help=f"comma-separated (full: {FULL['concurrency']})")
    parser.add_argument("--duration", type=float, help="measured seconds per scenario")
    parser.add_argument("--warmup", type=float, help="seconds before measuring")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated subset")
    parser.add_argument("--pgbench-seconds", type=int, help="seconds per pgbench script (0: skip)")
    parser.add_argument("--pgbench-clients", type=int, default=TARGET_CONCURRENCY)
    parser.add_argument("--sweeper-holds", type=int, help="overdue holds for the sweeper (0: skip)")
    parser.add_argument("--sweeper-reservers", type=int, default=16)
    parser.add_argument("--sweeper-timeout", type=float, default=120.0)
    parser.add_argument(
        "--import-variants", type=int, help="variants `holdfast import` loads from a generated file (0: skip)"
    )
    parser.add_argument("--import-timeout", type=float, default=300.0)
    parser.add_argument(
        "--bulk-batches", type=int, help="bulk-set: BatchUpdateStock calls, one after another (0: skip)"
    )
    parser.add_argument("--bulk-rows", type=int, default=1000, help="bulk-set: SET rows per call")
    parser.add_argument(
        "--bulk-reservers", type=int, default=16, help="bulk-set: callers reserving meanwhile"
    )
    parser.add_argument(
        "--event-feed",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="hot and spread again while 4 consumers tail StreamStockEvents, then a catch-up read",
    )
    parser.add_argument("--skus", type=int, default=10_000)
    parser.add_argument("--results", type=Path, default=REPO_ROOT / "bench" / "results")
    return parser


def _options(argv: list[str] | None) -> argparse.Namespace:
    args = _parser().parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.concurrency = [int(c) for c in str(args.concurrency).split(",")]
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown scenarios: {', '.join(sorted(unknown))} (known: {', '.join(SCENARIOS)})")
    return args


def _settle(database_url: str) -> None:
    """Each run starts alike: the hot row's dead versions vacuumed, dirty pages flushed."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) stock")
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            conn.execute("CHECKPOINT")


def _interrupt_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so every process is stopped and the database dropped."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _baselines(args: argparse.Namespace, results: Results, database_url: str, skus: SkuSet) -> None:
    """The raw-SQL ceiling of each reserve transaction, at the pgbench client count."""
    pgbench = find_pgbench()
    if pgbench is None:
        print("bench: pgbench not found; no raw-SQL baseline", flush=True)
        return
    for scenario in MATCHES:
        _settle(database_url)
        run = run_script(
            pgbench, database_url, scenario, skus, clients=args.pgbench_clients, seconds=args.pgbench_seconds
        )
        results.pgbench.append(run)
        print(report.progress(run), flush=True)


def _scenarios(
    args: argparse.Namespace, results: Results, database_url: str, skus: SkuSet, services: Services
) -> None:
    """Every scenario at every concurrency, each by a load generator of its own."""
    for scenario in args.scenarios:
        for concurrency in args.concurrency:
            _settle(database_url)
            run = measure(
                scenario,
                concurrency,
                targets=services.targets,
                skus=skus,
                warmup=args.warmup,
                duration=args.duration,
            )
            results.measurements.append(run)
            print(report.progress(run), flush=True)
            services.check_alive()


def execute(args: argparse.Namespace, results: Results, log_dir: Path) -> None:
    """Every phase, in order, filling `results`; whatever it started is gone when it returns."""
    skus = SkuSet(SKU_PREFIX, args.skus)
    with infrastructure() as infra, contextlib.ExitStack() as cleanup:
        name = f"holdfast_bench_{os.getpid()}"
        database_url = cleanup.enter_context(migrated_scratch_database(infra.database_url, name))
        with psycopg.connect(database_url, autocommit=True) as conn:
            seed_catalog(conn, skus)
        print(f"bench: scratch database seeded with {skus.count:,} SKUs; starting the services", flush=True)
        # The certificates live with the run's logs; the tokens only in the processes' environments.
        security = StackSecurity.create(log_dir / "certs") if args.secure else None
        services = Services(security)
        cleanup.callback(services.stop)
        services.start(database_url, log_dir)
        results.facts = machine_facts(database_url, find_pgbench())

        if args.pgbench_seconds > 0:
            _baselines(args, results, database_url, skus)
        _scenarios(args, results, database_url, skus, services)
        if args.bulk_batches > 0:
            _settle(database_url)
            results.bulk_set = bulk_set_under_load(
                services.targets,
                skus,
                rows=args.bulk_rows,
                batches=args.bulk_batches,
                reservers=args.bulk_reservers,
            )
            print(report.progress(results.bulk_set.batches), flush=True)
            print(report.progress(results.bulk_set.reservers), flush=True)
            services.check_alive()
        if args.event_feed:
            _settle(database_url)
            concurrency = (
                TARGET_CONCURRENCY if TARGET_CONCURRENCY in args.concurrency else max(args.concurrency)
            )
            results.event_feed = feed_under_load(
                database_url,
                services.targets,
                skus,
                concurrency=concurrency,
                warmup=args.warmup,
                duration=args.duration,
            )
            for line in report.feed_lines(results):
                print(line, flush=True)
            services.check_alive()
        if args.sweeper_holds > 0:
            print(f"bench: the sweeper on {args.sweeper_holds:,} overdue holds, under load", flush=True)
            results.sweeper = sweep_under_load(
                database_url,
                infra.redis_url,
                services.targets,
                skus,
                holds=args.sweeper_holds,
                skus=min(args.skus, args.sweeper_holds),
                reservers=args.sweeper_reservers,
                timeout=args.sweeper_timeout,
                log_dir=log_dir,
            )
            print(report.progress(results.sweeper.reservers), flush=True)
            services.check_alive()
        if args.import_variants > 0:
            results.catalog_import = import_with_cli(
                database_url,
                services.targets,
                variants=args.import_variants,
                log_dir=log_dir,
                timeout=args.import_timeout,
            )
            print(report.import_line(results.catalog_import), flush=True)
            services.check_alive()

        # Read before the services stop: /proc forgets a process once it is gone.
        results.peak_rss_mb = {
            **services.peak_rss_mb(),
            **(results.sweeper.peak_rss_mb if results.sweeper else {}),
        }
        services.stop()
        results.breaches = find_breaches(database_url)


def main(argv: list[str] | None = None) -> int:
    args = _options(argv)
    # The embedded servers' platformdirs warns about XDG_RUNTIME_DIR; pytest hides it too.
    warnings.filterwarnings("ignore", category=UserWarning, module="platformdirs")
    _interrupt_on_sigterm()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    log_dir = args.results / f"{stamp}-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    results = Results(
        config={k: v for k, v in vars(args).items() if k != "results"},
        security=SECURE if args.secure else PLAIN,
    )
    started = time.monotonic()
    try:
        execute(args, results, log_dir)
    except KeyboardInterrupt:
        print("\nbench: interrupted; every process stopped and the scratch database dropped", flush=True)
        return 130
    except ProcessFailed as failure:
        print(f"\nbench: FAILED: {failure}\nlogs in {log_dir}", flush=True)
        return 1
    results.wall_seconds = time.monotonic() - started
    json_path, md_path = report.write(results, args.results, stamp)
    print("", *report.summary(results), f"Results: {json_path} and {md_path}; logs in {log_dir}", sep="\n")
    return 1 if results.breaches else 0

"""How long a real sweeper takes to clear a backlog of overdue holds.

    .venv/bin/python -m bench.sweeper_clear --holds 100000

Creates a scratch database on DATABASE_URL's server (or the embedded one), seeds
overdue holds with SQL, starts `python -m sweeper worker` and `python -m sweeper
scheduler` with their defaults (REDIS_URL, or the embedded Redis), and times them
until no overdue hold is left; then checks every invariant and drops the database.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import psycopg
import redis

from bench.processes import Child
from bench.stack import migrated_scratch_database
from holdfast_dev.infra import infrastructure
from holdfast_ops.audit import find_breaches
from tests.support.processes import ProcessFailed

_SEED_PRODUCT = """
INSERT INTO products (id, title, base_price_minor, currency)
VALUES (gen_random_uuid(), %(prefix)s, 100, 'USD')
RETURNING id
"""

_SEED_STOCK = """
WITH variants AS (
    INSERT INTO variants (id, product_id, sku)
    SELECT gen_random_uuid(), %(product_id)s, %(prefix)s || '-' || i
    FROM generate_series(0, %(skus)s - 1) i
    RETURNING sku
), stock AS (
    INSERT INTO stock (sku, location, on_hand) SELECT sku, 'default', %(on_hand)s FROM variants
)
INSERT INTO stock_ledger (sku, location, delta_on_hand, delta_reserved, reason)
SELECT sku, 'default', %(on_hand)s, 0, 'RECEIVE' FROM variants
"""

# Hold n holds `lines` consecutive SKUs (mod skus), each line `quantity` units at location
# `default`: the holds, their lines and allocations, one HOLD ledger row per allocation and the
# reserved counts, exactly what CreateHold would have written.
_SEED_HOLDS = """
WITH new_holds AS (
    SELECT gen_random_uuid() AS id, n FROM generate_series(0, %(holds)s - 1) n
), inserted AS (
    INSERT INTO holds (id, owner_id, state, create_time, expire_time, channel, strategy)
    SELECT id, %(prefix)s, 'ACTIVE', now() + %(expire_in)s - interval '10 minutes',
           now() + %(expire_in)s, 'default', 'PRIORITY'
    FROM new_holds
), lines AS (
    SELECT h.id AS hold_id, %(prefix)s || '-' || ((h.n * %(lines)s + k) %% %(skus)s) AS sku,
           %(quantity)s::bigint AS quantity
    FROM new_holds h, generate_series(0, %(lines)s - 1) k
), inserted_lines AS (
    INSERT INTO hold_lines (hold_id, sku, quantity) SELECT hold_id, sku, quantity FROM lines
), allocations AS (
    INSERT INTO hold_allocations (hold_id, sku, location, quantity)
    SELECT hold_id, sku, 'default', quantity FROM lines
), ledger AS (
    INSERT INTO stock_ledger (sku, location, delta_on_hand, delta_reserved, reason, hold_id)
    SELECT sku, 'default', 0, quantity, 'HOLD', hold_id FROM lines
)
UPDATE stock s SET reserved = s.reserved + t.quantity
FROM (SELECT sku, sum(quantity) AS quantity FROM lines GROUP BY sku) t
WHERE s.sku = t.sku AND s.location = 'default'
"""

OVERDUE_COUNT = "SELECT count(*) FROM holds WHERE state = 'ACTIVE' AND expire_time <= now()"


def seed_holds(
    conn: psycopg.Connection,
    *,
    holds: int,
    skus: int = 100,
    lines: int = 1,
    quantity: int = 1,
    expire_in: timedelta = timedelta(minutes=-1),
    spare: int = 0,
) -> str:
    """Seeds `holds` ACTIVE holds expiring `expire_in` from now (negative: overdue) on new
    SKUs, in one transaction; returns the prefix naming the SKUs and the holds' owner_id."""
    if lines > skus:
        raise ValueError("a hold cannot have more lines than there are SKUs")
    prefix = f"SEED{uuid.uuid4().hex[:10]}"
    held_per_sku = -(-holds * lines // skus) * quantity
    with conn.transaction():
        row = conn.execute(_SEED_PRODUCT, {"prefix": prefix}).fetchone()
        assert row is not None
        conn.execute(
            _SEED_STOCK,
            {"prefix": prefix, "product_id": row[0], "skus": skus, "on_hand": held_per_sku + spare},
        )
        conn.execute(
            _SEED_HOLDS,
            {
                "prefix": prefix,
                "holds": holds,
                "skus": skus,
                "lines": lines,
                "quantity": quantity,
                "expire_in": expire_in,
            },
        )
    return prefix


def forget_namespace(redis_url: str, namespace: str) -> None:
    """Deletes the run's Redis keys (queue, heartbeats, results)."""
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{namespace}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def clear(database_url: str, redis_url: str, *, holds: int, skus: int, lines: int, timeout: float) -> int:
    """Seeds, starts the sweeper, waits until the backlog is gone; prints the timings."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        started = time.perf_counter()
        seed_holds(conn, holds=holds, skus=skus, lines=lines)
        conn.execute("ANALYZE")
        print(
            f"seeded {holds} overdue holds x {lines} line(s) on {skus} SKUs in "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )
        namespace = f"holdfast-bench-{os.getpid()}"
        env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url)
        env["SWEEPER_REDIS_NAMESPACE"] = namespace
        sweeper: list[Child] = []
        logs = Path(tempfile.mkdtemp(prefix="holdfast-sweeper-clear-"))
        try:
            worker = Child("sweeper worker", ["sweeper", "worker"], env, logs / "worker.log")
            sweeper.append(worker)
            try:
                worker.wait_for("ready for action")
            except ProcessFailed as exc:
                print(exc, file=sys.stderr)
                return 1
            started = time.perf_counter()
            sweeper.append(Child("sweeper scheduler", ["sweeper", "scheduler"], env, logs / "scheduler.log"))
            first = None
            while (left := conn.execute(OVERDUE_COUNT).fetchone()[0]) > 0:  # type: ignore[index]
                if first is None and left < holds:
                    first = time.perf_counter() - started
                if time.perf_counter() - started > timeout:
                    print(f"gave up after {timeout:.0f} s with {left} overdue holds left", file=sys.stderr)
                    return 1
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
        finally:
            for child in reversed(sweeper):
                child.stop_session()
            forget_namespace(redis_url, namespace)
            shutil.rmtree(logs, ignore_errors=True)
    breaches = find_breaches(database_url)
    print(f"first hold expired {first or elapsed:.2f} s after the scheduler started")
    print(f"cleared {holds} overdue holds in {elapsed:.2f} s ({holds / elapsed:,.0f} holds/s)")
    print("invariants: " + ("all hold" if not breaches else f"BROKEN {breaches}"))
    return 1 if breaches else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sweeper_clear", description=__doc__)
    parser.add_argument("--holds", type=int, default=100_000)
    parser.add_argument("--skus", type=int, default=10_000)
    parser.add_argument("--lines", type=int, default=1, help="lines per hold")
    parser.add_argument("--timeout", type=float, default=600, help="seconds before giving up")
    args = parser.parse_args(argv)
    with infrastructure() as infra:
        server_url = infra.database_url
        name = f"holdfast_bench_sweeper_{os.getpid()}"
        with migrated_scratch_database(server_url, name) as url:
            return clear(
                url, infra.redis_url, holds=args.holds, skus=args.skus, lines=args.lines, timeout=args.timeout
            )


if __name__ == "__main__":
    raise SystemExit(main())

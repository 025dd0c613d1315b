"""The sweep itself (sweeper.expiry) on a real database: what it expires and how, batches,
time budget, lock skipping, concurrent sweeps, the idempotency purge and the metrics."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest
from holdfast.inventory.v1 import inventory_pb2 as pb
from prometheus_client import REGISTRY

from bench.sweeper_clear import seed_holds
from holdfast_common.db.pool import SyncPool
from holdfast_ops.audit import find_breaches
from sweeper import expiry
from sweeper.database import LazyPool
from sweeper.expiry import (
    PARTITION_LOCK_CLASS,
    expire_overdue_holds,
    oldest_overdue_age,
    purge_idempotency_keys,
    sweep,
)
from tests.conftest import make_settings
from tests.integration.conftest import expiry_record, overdue_count
from tests.support.builders import hold_request
from tests.support.grpc_helpers import new_request_id

DAY = timedelta(hours=24)
FAR = 3600.0  # a time budget no test reaches


@pytest.fixture(scope="module")
def pool(database_url: str) -> Iterator[SyncPool]:
    # A short lock_timeout: a sweep that waited on a lock would fail fast, not hang.
    lazy = LazyPool(make_settings(database_url, db_lock_timeout_ms=500).database)
    yield lazy.get()
    lazy.close()


def deadline(seconds: float) -> float:
    return time.monotonic() + seconds


def metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def make_overdue(db: psycopg.Connection, hold_ids: list[str], seconds_ago: float = 60) -> None:
    """Moves holds' expire_time into the past (expire_time is in no invariant)."""
    db.execute(
        "UPDATE holds SET expire_time = now() - make_interval(secs => %s), "
        "create_time = now() - interval '1 hour' WHERE id = ANY(%s::uuid[])",
        (seconds_ago, hold_ids),
    )


def ledger_rows(db: psycopg.Connection, hold_id: str) -> list[tuple[str, int, int, str]]:
    return [
        (r[0], r[1], r[2], r[3])
        for r in db.execute(
            "SELECT sku, delta_on_hand, delta_reserved, reason FROM stock_ledger "
            "WHERE hold_id = %s ORDER BY id",
            (hold_id,),
        ).fetchall()
    ]


def test_expires_overdue_active_holds_exactly_as_the_reserve_path_would(inventory, db, pool):
    client = inventory.client
    a, b, c = client.sku(on_hand=10), client.sku(on_hand=10), client.sku(on_hand=10)
    overdue_two_lines = client.hold({a: 2, b: 3})
    overdue_one_line = client.hold({c: 1})
    live = client.hold({a: 1}, ttl_seconds=600)
    committed = client.hold({b: 1})
    released = client.hold({c: 2})
    stub = inventory.stub
    stub.CommitHold(pb.CommitHoldRequest(request_id=new_request_id(), hold_id=committed.id))
    stub.ReleaseHold(pb.ReleaseHoldRequest(request_id=new_request_id(), hold_id=released.id))
    make_overdue(db, [overdue_two_lines.id, overdue_one_line.id, committed.id, released.id])

    result = sweep(pool, batch_size=500, time_budget=FAR, retention=DAY)

    assert result.expired == 2
    for hold in (overdue_two_lines, overdue_one_line):
        got = stub.GetHold(pb.GetHoldRequest(id=hold.id)).hold
        assert got.state == pb.HOLD_STATE_EXPIRED
        assert got.end_time == got.expire_time
    (state, ended_at_expiry) = db.execute(
        "SELECT state, end_time = expire_time FROM holds WHERE id = %s", (overdue_two_lines.id,)
    ).fetchone()
    assert (state, ended_at_expiry) == ("EXPIRED", True)
    assert sorted(ledger_rows(db, overdue_two_lines.id)) == sorted(
        [(a, 0, 2, "HOLD"), (b, 0, 3, "HOLD"), (a, 0, -2, "EXPIRE"), (b, 0, -3, "EXPIRE")]
    )
    assert ledger_rows(db, overdue_one_line.id) == [(c, 0, 1, "HOLD"), (c, 0, -1, "EXPIRE")]
    assert [r[3] for r in ledger_rows(db, committed.id)] == ["HOLD", "COMMIT"]
    assert [r[3] for r in ledger_rows(db, released.id)] == ["HOLD", "RELEASE"]
    assert stub.GetHold(pb.GetHoldRequest(id=live.id)).hold.state == pb.HOLD_STATE_ACTIVE
    levels = {x.sku: (x.on_hand, x.reserved) for x in (client.level(a), client.level(b), client.level(c))}
    assert levels == {a: (10, 1), b: (9, 0), c: (10, 0)}
    # Nothing is expired twice.
    assert sweep(pool, batch_size=500, time_budget=FAR, retention=DAY).expired == 0
    assert len(ledger_rows(db, overdue_two_lines.id)) == 4


def test_runs_in_batches_until_none_is_overdue_or_the_budget_is_spent(db, pool):
    owner = seed_holds(db, holds=23, skus=10, lines=2)
    expired_before = metric("holdfast_sweeper_holds_expired_total")
    batches_before = metric("holdfast_sweeper_batch_duration_seconds_count")

    # A spent budget still runs one batch, then stops.
    assert expire_overdue_holds(pool, batch_size=5, deadline=deadline(0)) == (5, 1)
    assert overdue_count(db) == 18

    # Three full batches and a short one; the short one shows nothing else is overdue.
    assert expire_overdue_holds(pool, batch_size=5, deadline=deadline(FAR)) == (18, 4)
    assert expiry_record(db, owner) == {
        "active": 0, "expired": 23, "committed": 0, "lines": 46, "expire_rows": 46, "bad_end": 0,
    }  # fmt: skip
    assert metric("holdfast_sweeper_holds_expired_total") - expired_before == 23
    assert metric("holdfast_sweeper_batch_duration_seconds_count") - batches_before == 5


def test_skips_holds_and_stock_rows_others_hold_locked_instead_of_waiting(db, pool, database_url):
    owner = seed_holds(db, holds=3, skus=3, lines=1)
    rows = db.execute(
        "SELECT h.id::text, l.sku FROM holds h JOIN hold_lines l ON l.hold_id = h.id "
        "WHERE h.owner_id = %s ORDER BY l.sku",
        (owner,),
    ).fetchall()
    (hold_locked, _), (_, sku_locked), (free_hold, _) = rows
    # One session holding a hold's row (as ExtendHold would), another a SKU's (as a reserve would).
    with psycopg.connect(database_url) as extending, psycopg.connect(database_url) as reserving:
        extending.execute("SELECT 1 FROM holds WHERE id = %s FOR UPDATE", (hold_locked,))
        reserving.execute("SELECT 1 FROM stock WHERE sku = %s FOR UPDATE", (sku_locked,))

        # A wait would end in a lock_timeout error after 500 ms; the sweep returns at once.
        # Its second batch walks again over the two it skipped: still locked, so it stops.
        assert expire_overdue_holds(pool, batch_size=10, deadline=deadline(FAR)) == (1, 2)
        state = db.execute("SELECT state FROM holds WHERE id = %s", (free_hold,)).fetchone()
        assert state == ("EXPIRED",)
        extending.rollback()
        reserving.rollback()

    assert expire_overdue_holds(pool, batch_size=10, deadline=deadline(FAR)) == (2, 1)
    assert expiry_record(db, owner)["expired"] == 3


def test_holds_it_must_skip_never_keep_it_from_the_holds_behind_them(db, pool, database_url):
    # The ten oldest overdue holds are all on one SKU a shopper has locked.
    hot = seed_holds(db, holds=10, skus=1, expire_in=timedelta(minutes=-2))
    behind = seed_holds(db, holds=10, skus=10, expire_in=timedelta(minutes=-1))
    with psycopg.connect(database_url) as shopper:
        shopper.execute("SELECT 1 FROM stock WHERE sku = %s FOR UPDATE", (hot + "-0",))

        # Six batches to the end, then three over the ten skipped: still locked, so it stops.
        assert expire_overdue_holds(pool, batch_size=4, deadline=deadline(FAR)) == (10, 9)
        assert expiry_record(db, behind)["expired"] == 10
        assert expiry_record(db, hot)["active"] == 10
        shopper.rollback()

    assert expire_overdue_holds(pool, batch_size=4, deadline=deadline(FAR)) == (10, 3)
    assert expiry_record(db, hot)["expired"] == 10


def test_holds_skipped_for_a_moment_are_expired_by_the_same_run(db, pool, database_url, monkeypatch):
    oldest = seed_holds(db, holds=1, skus=1, expire_in=timedelta(minutes=-2))
    rest = seed_holds(db, holds=11, skus=11)
    with psycopg.connect(database_url) as shopper:
        # A shopper holds the oldest hold's stock row through the sweep's first batch only.
        shopper.execute("SELECT 1 FROM stock WHERE sku = %s FOR UPDATE", (oldest + "-0",))
        run_batch = expiry._expire_batch

        def then_shopper_commits(*args, **kwargs):
            row = run_batch(*args, **kwargs)
            shopper.rollback()
            return row

        monkeypatch.setattr(expiry, "_expire_batch", then_shopper_commits)
        expired, batches = expire_overdue_holds(pool, batch_size=5, deadline=deadline(FAR))

    # Three batches to the end (5, 5, 2), then one more from the batch that skipped a hold.
    assert (expired, batches) == (12, 4)
    assert expiry_record(db, oldest)["expired"] + expiry_record(db, rest)["expired"] == 12


def partition_of(hold_id: str, partitions: int) -> int:
    return int(hold_id[-1], 16) % partitions


def test_a_partition_another_run_is_walking_is_left_to_it(db, pool, database_url):
    owner = seed_holds(db, holds=200, skus=50)
    ids = [r[0] for r in db.execute("SELECT id::text FROM holds WHERE owner_id = %s", (owner,))]
    in_partition_0 = sum(1 for i in ids if partition_of(i, 2) == 0)
    with psycopg.connect(database_url) as other_run:
        # Another run's batch on partition 0 of 2 is in progress.
        other_run.execute("SELECT pg_advisory_xact_lock(%s, 0)", (PARTITION_LOCK_CLASS,))

        assert expire_overdue_holds(pool, batch_size=30, deadline=deadline(FAR), partitions=2)[0] == (
            200 - in_partition_0
        )
        active = [
            r[0]
            for r in db.execute(
                "SELECT id::text FROM holds WHERE owner_id = %s AND state = 'ACTIVE'", (owner,)
            )
        ]
        assert len(active) == in_partition_0
        assert {partition_of(i, 2) for i in active} == {0}
        # With one partition, that run has it all: this one does nothing.
        assert expire_overdue_holds(pool, batch_size=30, deadline=deadline(FAR)) == (0, 0)
        other_run.rollback()

    assert (
        expire_overdue_holds(pool, batch_size=30, deadline=deadline(FAR), partitions=2)[0] == in_partition_0
    )
    assert expiry_record(db, owner)["expired"] == 200


@pytest.mark.parametrize("skus", [9000, 40], ids=["own-skus", "shared-skus"])
def test_concurrent_sweeps_expire_every_hold_exactly_once(db, pool, skus):
    # Own SKUs: the sweeps share the holds out between them. Shared SKUs: every batch
    # touches stock rows another sweep holds, so they keep skipping each other's holds.
    owner = seed_holds(db, holds=3000, skus=skus, lines=3)
    sweepers = 4
    start = threading.Barrier(sweepers)
    results: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            results.append(
                expire_overdue_holds(pool, batch_size=50, deadline=deadline(FAR), partitions=sweepers)
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(sweepers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert len(results) == sweepers
    if skus >= 3000 * 3:
        assert sum(1 for expired, _ in results if expired > 0) >= 2, "the sweeps did not share the work"
    # Whatever a sweep skipped because another held it is the next run's.
    swept_later, _ = expire_overdue_holds(pool, batch_size=50, deadline=deadline(FAR), partitions=sweepers)
    assert sum(expired for expired, _ in results) + swept_later == 3000
    assert expiry_record(db, owner) == {
        "active": 0, "expired": 3000, "committed": 0, "lines": 9000, "expire_rows": 9000, "bad_end": 0,
    }  # fmt: skip
    assert db.execute(
        "SELECT count(*) FROM stock WHERE sku LIKE %s AND reserved <> 0", (owner + "-%",)
    ).fetchone() == (0,)


def test_parallel_runs_racing_reserves_on_the_same_skus_expire_each_hold_once(
    inventory, db, pool, database_url
):
    # Shoppers reserve on the SKUs of the overdue holds, so their reserves reclaim some
    # of the holds the two runs are after, and lock stock rows the runs must skip.
    owner = seed_holds(db, holds=2000, skus=40, lines=2, spare=10_000)
    skus = [f"{owner}-{i}" for i in range(40)]
    done = threading.Event()
    errors: list[BaseException] = []

    def shop(seed: int) -> None:
        k = seed
        while not done.is_set():
            k += 7
            cart = {skus[k % 40]: 1, skus[(k * 3 + 1) % 40]: 1}
            try:
                inventory.client.hold(cart, owner_id="shopper", ttl_seconds=600)
            except BaseException as exc:
                errors.append(exc)
                return

    def sweep_partitions() -> None:
        try:
            expire_overdue_holds(pool, batch_size=50, deadline=deadline(FAR), partitions=2)
        except BaseException as exc:
            errors.append(exc)

    shoppers = [threading.Thread(target=shop, args=(n,)) for n in range(4)]
    runs = [threading.Thread(target=sweep_partitions) for _ in range(2)]
    for thread in shoppers + runs:
        thread.start()
    for thread in runs:
        thread.join(timeout=120)
    done.set()
    for thread in shoppers:
        thread.join(timeout=30)

    assert errors == []
    expire_overdue_holds(pool, batch_size=50, deadline=deadline(FAR), partitions=2)
    assert expiry_record(db, owner) == {
        "active": 0, "expired": 2000, "committed": 0, "lines": 4000, "expire_rows": 4000, "bad_end": 0,
    }  # fmt: skip
    assert find_breaches(database_url) == {}


def create_hold(inventory, request_id: str, sku: str) -> str:
    request = hold_request({sku: 1}, request_id=request_id, owner_id="purge")
    return str(inventory.stub.CreateHold(request).hold.id)


def test_purges_idempotency_records_only_after_their_retention(inventory, db, pool):
    sku = inventory.client.sku(on_hand=10)
    aged, kept = new_request_id(), new_request_id()
    aged_hold = create_hold(inventory, aged, sku)
    kept_hold = create_hold(inventory, kept, sku)
    db.execute(
        "UPDATE idempotency_keys SET create_time = now() - %s WHERE request_id = %s",
        (timedelta(hours=25), aged),
    )
    db.execute(
        "UPDATE idempotency_keys SET create_time = now() - %s WHERE request_id = %s",
        (timedelta(hours=23), kept),
    )
    db.execute(
        "INSERT INTO idempotency_keys (request_id, method, fingerprint, response, create_time) "
        "SELECT 'old-' || i, 'test', '\\x00', '\\x00', now() - interval '30 hours' "
        "FROM generate_series(1, 4) i"
    )
    purged_before = metric("holdfast_sweeper_idempotency_keys_purged_total")

    assert purge_idempotency_keys(pool, retention=DAY, batch_size=2, deadline=deadline(FAR)) == 5

    assert metric("holdfast_sweeper_idempotency_keys_purged_total") - purged_before == 5
    left = {r[0] for r in db.execute("SELECT request_id FROM idempotency_keys").fetchall()}
    assert kept in left and aged not in left and not any(k.startswith("old-") for k in left)
    # Within its retention a request_id still replays; past it, it is a new request.
    assert create_hold(inventory, kept, sku) == kept_hold
    assert create_hold(inventory, aged, sku) != aged_hold


def test_the_oldest_overdue_hold_age_is_measured_for_the_metrics(db, pool):
    seed_holds(db, holds=2, skus=2, expire_in=timedelta(seconds=-90))
    seed_holds(db, holds=1, skus=1, expire_in=timedelta(seconds=-10))
    assert 90 <= oldest_overdue_age(pool) < 3600
    assert metric("holdfast_sweeper_oldest_overdue_hold_age_seconds") >= 90

    assert sweep(pool, batch_size=500, time_budget=FAR, retention=DAY).expired == 3

    assert metric("holdfast_sweeper_oldest_overdue_hold_age_seconds") == 0


def test_expiring_a_backordered_hold_gives_back_its_units_under_the_cap(inventory, db, pool):
    sku = inventory.client.sku(on_hand=1)
    inventory.stub.SetInventoryPolicy(
        pb.SetInventoryPolicyRequest(
            request_id=new_request_id(),
            policy=pb.InventoryPolicy(sku=sku, kind=pb.INVENTORY_POLICY_KIND_BACKORDER, backorder_limit=4),
        )
    )
    hold = inventory.client.hold({sku: 5})
    assert (hold.lines[0].from_stock, hold.lines[0].backordered) == (1, 4)
    make_overdue(db, [hold.id])

    assert sweep(pool, batch_size=500, time_budget=FAR, retention=DAY).expired == 1

    level = inventory.client.level(sku)
    assert (level.reserved, level.backordered, level.available) == (0, 0, 1)
    assert db.execute(
        "SELECT delta_reserved, delta_backordered FROM stock_ledger WHERE hold_id = %s AND reason = 'EXPIRE'",
        (hold.id,),
    ).fetchall() == [(-1, -4)]
    # The cap is whole again.
    assert inventory.client.hold({sku: 5}).lines[0].backordered == 4

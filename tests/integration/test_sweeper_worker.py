"""The sweeper as it runs: `python -m sweeper worker` and `scheduler` processes on a real
Redis and PostgreSQL, racing shoppers, each other, SIGKILL and a database outage."""

from __future__ import annotations

import json
import time
from datetime import UTC
from typing import cast
from urllib.parse import urlsplit

import grpc
import psycopg
import redis
from dramatiq.results import Results
from holdfast.inventory.v1 import inventory_pb2 as pb

from bench.sweeper_clear import seed_holds
from holdfast_dev.infra import with_database
from holdfast_ops.audit import find_breaches
from sweeper.actors import declare
from sweeper.broker import make_broker
from sweeper.leader import leader_key
from tests.conftest import make_settings
from tests.integration.conftest import expiry_record, overdue_count
from tests.support.databases import create_database, drop_database
from tests.support.grpc_helpers import failure, new_request_id
from tests.support.polling import wait_until
from tests.support.processes import ModuleProcess


def runs_that_expired(process: ModuleProcess) -> list[int]:
    """Holds expired by each of a worker's finished runs that expired any (its JSON log lines)."""
    counts = []
    for line in process.log().splitlines():
        if line.startswith("{") and '"sweep finished"' in line:
            counts.append(json.loads(line)["holds_expired"])
    return [c for c in counts if c]


def holds_expired_by(process: ModuleProcess) -> int:
    """Holds a worker reports expired, summed over its finished runs."""
    return sum(runs_that_expired(process))


def all_expired(db: psycopg.Connection, owner: str, holds: int, lines: int) -> None:
    """Every seeded hold EXPIRED at its expire_time, with exactly one EXPIRE row per line."""
    assert expiry_record(db, owner) == {
        "active": 0,
        "expired": holds,
        "committed": 0,
        "lines": holds * lines,
        "expire_rows": holds * lines,
        "bad_end": 0,
    }
    reserved = db.execute("SELECT sum(reserved) FROM stock WHERE sku LIKE %s", (owner + "-%",)).fetchone()
    assert reserved == (0,)


def test_a_real_worker_expires_10000_overdue_holds_keeping_every_invariant(sweeper, db, database_url):
    owner = seed_holds(db, holds=10_000, skus=200, lines=2)
    worker = sweeper("worker")
    scheduler = sweeper("scheduler")

    wait_until(lambda: overdue_count(db) == 0, 120, "the worker to expire every overdue hold")

    all_expired(db, owner, 10_000, 2)
    assert find_breaches(database_url) == {}
    # SIGTERM, as `make run` sends it on Ctrl-C: both stop cleanly.
    assert (scheduler.terminate(), worker.terminate()) == (0, 0)


def test_the_first_tick_clears_a_backlog_of_many_batches_in_parallel_runs(sweeper, db):
    owner = seed_holds(db, holds=3000, skus=300)
    worker = sweeper("worker", sweeper_batch_size=100)
    # An hour between ticks: only the one sent as the scheduler starts can do it.
    sweeper("scheduler", sweeper_interval_seconds=3600)

    wait_until(lambda: overdue_count(db) == 0, 60, "the first tick's runs to clear the backlog")

    all_expired(db, owner, 3000, 1)
    # The tick sent a run per partition, and both swept.
    wait_until(lambda: len(runs_that_expired(worker)) == 2, 30, "both runs to report")
    assert sum(runs_that_expired(worker)) == 3000


def test_a_run_returns_how_many_holds_it_expired(sweeper, db, database_url, redis_url, sweeper_namespace):
    owner = seed_holds(db, holds=50, skus=5, lines=2)
    sweeper("worker")
    settings = make_settings(database_url, redis_url=redis_url, sweeper_redis_namespace=sweeper_namespace)
    broker = make_broker(settings.sweeper)
    try:
        # An operator's one-off run: sent by hand, its result read back.
        message = declare(broker, settings).send()
        (results,) = (m.backend for m in broker.middleware if isinstance(m, Results))
        assert message.get_result(backend=results, block=True, timeout=60_000) == 50
    finally:
        broker.close()
    all_expired(db, owner, 50, 2)


def test_a_commit_racing_the_expiry_of_its_hold_ends_in_exactly_one_state(inventory, sweeper, db):
    count = 150
    sku = inventory.client.sku(on_hand=count)
    sweeper("worker")
    sweeper("scheduler")
    holds = [inventory.client.hold({sku: 1}, owner_id="racer", ttl_seconds=3) for _ in range(count)]
    # Each commit is sent at its hold's expire_time shifted by -0.5 s ... +0.5 s, while the
    # sweeper ticks every 0.2 s: the early ones commit, the late ones find the hold expired,
    # and the ones near zero race the sweeper's transaction.
    plan = sorted(
        (h.expire_time.ToDatetime(tzinfo=UTC).timestamp() - 0.5 + i / (count - 1), h.id)
        for i, h in enumerate(holds)
    )
    futures = []
    for at, hold_id in plan:
        time.sleep(max(0.0, at - time.time()))
        request = pb.CommitHoldRequest(request_id=new_request_id(), hold_id=hold_id)
        futures.append((hold_id, inventory.stub.CommitHold.future(request, timeout=30)))
    committed, refused = set(), set()
    for hold_id, future in futures:
        try:
            assert future.result().hold.state == pb.HOLD_STATE_COMMITTED
            committed.add(hold_id)
        except grpc.RpcError as error:
            why = failure(error)
            assert (why.code, why.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "HOLD_EXPIRED")
            refused.add(hold_id)
    wait_until(lambda: overdue_count(db) == 0, 60, "the sweeper to expire the refused holds")

    assert committed and refused, "the commits did not straddle the expiry"
    states = dict(db.execute("SELECT id::text, state FROM holds WHERE owner_id = 'racer'").fetchall())
    assert {h for h, s in states.items() if s == "COMMITTED"} == committed
    assert {h for h, s in states.items() if s == "EXPIRED"} == refused
    terminal_rows = dict(
        db.execute(
            "SELECT g.hold_id::text, count(*) FROM stock_ledger g JOIN holds h ON h.id = g.hold_id "
            "WHERE h.owner_id = 'racer' AND g.reason <> 'HOLD' GROUP BY g.hold_id"
        ).fetchall()
    )
    assert terminal_rows == dict.fromkeys(states, 1)
    level = inventory.client.level(sku)
    assert (level.on_hand, level.reserved) == (count - len(committed), 0)


def test_two_workers_and_two_schedulers_never_expire_a_hold_twice(sweeper, db):
    owner = seed_holds(db, holds=10_000, skus=200, lines=2)
    # The schedulers queue messages before the workers come up. One thread each: the
    # first worker prefetches only two, so the second finds the next ones waiting while
    # the first is still sweeping (small batches keep that sweep long).
    sweeper("scheduler")
    sweeper("scheduler")
    workers = [sweeper("worker", "--threads", "1", sweeper_batch_size=10) for _ in range(2)]

    wait_until(lambda: overdue_count(db) == 0, 120, "the workers to expire every overdue hold")

    all_expired(db, owner, 10_000, 2)
    wait_until(lambda: sum(map(holds_expired_by, workers)) == 10_000, 30, "the runs to report")
    assert all(holds_expired_by(w) > 0 for w in workers), "one worker did all the work"


def test_one_scheduler_leads_and_a_standby_takes_over_when_it_dies(sweeper, db, redis_url, sweeper_namespace):
    client = redis.Redis.from_url(redis_url)
    key = leader_key(sweeper_namespace)

    def leader_pid() -> int | None:
        value = cast(bytes | None, client.get(key))
        return int(value.decode().split(":")[1]) if value else None

    ttl = {"sweeper_leader_ttl_seconds": 3}
    schedulers = {s.pid: s for s in (sweeper("scheduler", **ttl), sweeper("scheduler", **ttl))}
    wait_until(leader_pid, 30, "a scheduler to lead")
    first = schedulers.pop(leader_pid())
    (standby,) = schedulers.values()
    # The leader renews its lock: past the TTL it still leads.
    time.sleep(4)
    assert leader_pid() == first.pid

    first.kill()  # no chance to hand over: the standby waits for the lock to lapse
    wait_until(lambda: leader_pid() == standby.pid, 30, "the standby to take over")
    sweeper("worker")
    owner = seed_holds(db, holds=100, skus=10)
    wait_until(lambda: overdue_count(db) == 0, 60, "the new leader's messages to be swept")
    all_expired(db, owner, 100, 1)

    # Stopped cleanly, a leader hands the lock over at once.
    assert standby.terminate() == 0
    assert client.get(key) is None
    client.close()


def test_a_worker_killed_mid_run_and_restarted_expires_every_hold_once(sweeper, db, database_url):
    holds = 5_000
    owner = seed_holds(db, holds=holds, skus=500)
    # Batches of 10: the run is still far from done when the first ones commit.
    worker = sweeper("worker", sweeper_batch_size=10)
    sweeper("scheduler")
    wait_until(lambda: expiry_record(db, owner)["expired"] > 0, 60, "the worker to start expiring")

    worker.kill()

    left = overdue_count(db)
    assert 0 < left < holds, "the run was not interrupted"
    # The batch in flight rolled back: what was done is whole, nothing is half-done.
    assert find_breaches(database_url) == {}
    sweeper("worker")
    wait_until(lambda: overdue_count(db) == 0, 120, "the restarted worker to finish")
    all_expired(db, owner, holds, 1)


def test_a_database_outage_makes_the_actor_retry_and_never_stops_the_worker(
    sweeper, pg_server_url, template_database, database_url
):
    # The workers start on a database that does not exist yet: every connection fails.
    name = urlsplit(database_url).path.lstrip("/") + "_late"
    late_url = with_database(pg_server_url, name)
    worker = sweeper("worker", database_url=late_url)
    scheduler = sweeper("scheduler", database_url=late_url)
    wait_until(lambda: "Retrying message" in worker.log(), 60, "the actor to fail and be retried")
    try:
        create_database(pg_server_url, name, template=template_database)
        with psycopg.connect(late_url, autocommit=True) as late:
            owner = seed_holds(late, holds=300, skus=20)
            wait_until(lambda: overdue_count(late) == 0, 60, "the worker to recover")
            all_expired(late, owner, 300, 1)

            # The server drops the worker's connections, as a restart would.
            dropped = late.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = 'holdfast-sweeper'"
            ).fetchone()
            assert dropped is not None and dropped[0] >= 1
            owner = seed_holds(late, holds=300, skus=20)
            wait_until(lambda: overdue_count(late) == 0, 60, "the worker to reconnect")
            all_expired(late, owner, 300, 1)
        assert worker.alive and scheduler.alive
        assert find_breaches(late_url) == {}
    finally:
        drop_database(pg_server_url, name)

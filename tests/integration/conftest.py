"""Sweeper test infrastructure: a Redis (REDIS_URL, or a redis-server of our own), a key
namespace per test, and `python -m sweeper worker|scheduler` as real processes."""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from tests.support.processes import ModuleProcess
from tests.support.redis_server import RedisServer

_namespaces = itertools.count()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """REDIS_URL when set (tests keep to their own key namespace), else a server of our own."""
    given = os.environ.get("REDIS_URL")
    if given:
        yield given
        return
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server.url
    server.stop()


@pytest.fixture
def sweeper_namespace(redis_url: str) -> Iterator[str]:
    """A Redis key prefix no other test or test run uses; its keys are deleted afterwards."""
    namespace = f"holdfast-test-{os.getpid()}-{next(_namespaces)}"
    yield namespace
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2)
    try:
        keys = list(client.scan_iter(match=f"{namespace}*"))
        if keys:
            client.delete(*keys)
    except redis.ConnectionError:
        pass  # a test that stopped its own Redis took the keys with it
    finally:
        client.close()


_SWEEPER_READY = {"worker": "ready for action", "scheduler": "sweeper scheduler started"}


def start_sweeper(role: str, args: tuple[str, ...], env: dict[str, str], log_path: Path) -> ModuleProcess:
    """`python -m sweeper ROLE` in its own session (so its children die with it), started."""
    process = ModuleProcess(f"sweeper {role}", ["sweeper", role, *args], env, log_path, own_session=True)
    process.wait_for(re.escape(_SWEEPER_READY[role]), 60)
    return process


SweeperFactory = Callable[..., ModuleProcess]


@pytest.fixture
def sweeper(
    database_url: str, redis_url: str, sweeper_namespace: str, tmp_path: Path
) -> Iterator[SweeperFactory]:
    """Starts sweeper processes on the module's database:
    sweeper("worker", *dramatiq options, **environment overrides).

    Ticks are fast (0.2 s) and a dead leader is replaced within 1.5 s, so tests wait
    little; whatever a test leaves running is stopped, and killed if it will not stop.
    """
    started: list[ModuleProcess] = []
    counter = itertools.count()

    def start(role: str, *args: str, **overrides: object) -> ModuleProcess:
        env = dict(os.environ)
        env.update(
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            SWEEPER_REDIS_NAMESPACE=sweeper_namespace,
            SWEEPER_INTERVAL_SECONDS="0.2",
            SWEEPER_LEADER_TTL_SECONDS="1.5",
            DB_POOL_TIMEOUT="2",
        )
        env.update({key.upper(): str(value) for key, value in overrides.items()})
        process = start_sweeper(role, args, env, tmp_path / f"{role}-{next(counter)}.log")
        started.append(process)
        return process

    yield start
    # Killed, not stopped: tests that care about a clean stop stop their processes
    # themselves, and the whole group goes so a worker's children never outlive it.
    for process in started:
        process.kill()


def overdue_count(db: psycopg.Connection) -> int:
    """ACTIVE holds past their expire_time: what the sweeper still has to do."""
    row = db.execute("SELECT count(*) FROM holds WHERE state = 'ACTIVE' AND expire_time <= now()").fetchone()
    assert row is not None
    return int(row[0])


def expiry_record(db: psycopg.Connection, owner_id: str) -> dict[str, int]:
    """For an owner's holds: how many are in each state, their lines, the EXPIRE ledger rows,
    and the expired holds whose end_time is not their expire_time."""
    row = db.execute(
        """
        SELECT count(*) FILTER (WHERE h.state = 'ACTIVE') AS active,
               count(*) FILTER (WHERE h.state = 'EXPIRED') AS expired,
               count(*) FILTER (WHERE h.state = 'COMMITTED') AS committed,
               (SELECT count(*) FROM hold_lines l JOIN holds x ON x.id = l.hold_id
                WHERE x.owner_id = %(owner)s) AS lines,
               (SELECT count(*) FROM stock_ledger g JOIN holds x ON x.id = g.hold_id
                WHERE x.owner_id = %(owner)s AND g.reason = 'EXPIRE') AS expire_rows,
               count(*) FILTER (WHERE h.state = 'EXPIRED' AND h.end_time <> h.expire_time) AS bad_end
        FROM holds h WHERE h.owner_id = %(owner)s
        """,
        {"owner": owner_id},
    ).fetchone()
    assert row is not None
    return dict(zip(("active", "expired", "committed", "lines", "expire_rows", "bad_end"), row, strict=True))

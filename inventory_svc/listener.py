"""One LISTEN connection kept alive: the shared loop of WatchStockLevels' listener
(stock_events.py) and the event feed's (event_feed.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import psycopg
import structlog

from holdfast_common.db.pool import AsyncConn, connection_kwargs
from holdfast_common.settings import DatabaseSettings

log = structlog.get_logger(__name__)

BACKOFF_FIRST = 0.1
BACKOFF_MAX = 5.0

Connect = Callable[[], Awaitable[AsyncConn]]


def listener_connect(database: DatabaseSettings, application_name: str) -> Connect:
    """Opens a listener's own connection: outside the pool, which would hand a LISTENing
    session to requests and take it back when it idles."""

    async def connect() -> AsyncConn:
        # TCP keepalives, so a peer that vanished without a word is noticed in about 25 s.
        return await psycopg.AsyncConnection.connect(
            database.database_url,
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=3,
            **connection_kwargs(database, application_name),  # type: ignore[arg-type]
        )

    return connect


async def listen_forever(
    connect: Connect,
    listen_query: str,
    on_listening: Callable[[], None],
    on_notify: Callable[[psycopg.Notify], None],
    what: str,
) -> None:
    """Runs `listen_query` on a fresh connection and hands every notification to `on_notify`,
    until cancelled; after a lost connection, reconnects with backoff. `on_listening` runs
    each time listening (re)starts: what was announced while away was never heard, so the
    caller re-reads whatever it keeps."""
    backoff = BACKOFF_FIRST
    while True:
        try:
            async with await connect() as conn:
                await conn.execute(listen_query)
                on_listening()
                log.info("listening", listener=what)
                backoff = BACKOFF_FIRST
                async for notify in conn.notifies():
                    on_notify(notify)
        except (psycopg.Error, OSError) as exc:
            log.warning("listener lost its connection", listener=what, error=str(exc), retry_in=backoff)
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, BACKOFF_MAX)

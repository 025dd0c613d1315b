"""A cheap fingerprint of every table, to show that a call changed nothing."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

Fingerprint = list[tuple[Any, ...]]


def _tables(conn: psycopg.Connection[Any]) -> list[str]:
    """Every table of the schema (migration bookkeeping aside), so new tables are covered."""
    rows = conn.execute(
        """
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
          AND c.relname NOT LIKE '%yoyo%'
        ORDER BY c.relname
        """
    ).fetchall()
    return [r[0] for r in rows if r[0] not in _BACKGROUND_TABLES]


# Columns the event sequencer (inventory_svc/event_feed.py) sets in the background, moments
# after the write whose events they number, and its memory table: bookkeeping of the feed,
# not a call's effect.
_BACKGROUND_COLUMNS = {
    "stock_events": ["position", "seq"],
    "stock_event_cursor": ["last_position", "scan_from", "settle_serial", "settle_xid"],
}
_BACKGROUND_TABLES = {"stock_event_keys"}


def _row(table: str) -> sql.Composable:
    """A table's row as text, without its background columns."""
    dropped = _BACKGROUND_COLUMNS.get(table)
    if not dropped:
        return sql.SQL("t::text")
    return sql.SQL("(to_jsonb(t) - {cols}::text[])::text").format(cols=sql.Literal(dropped))


class TableFingerprints:
    """Per table, its row count and an md5 of its rows in order: one statement per take."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn
        self._query = sql.SQL(" UNION ALL ").join(
            sql.SQL(
                "SELECT {name}, count(*), md5(COALESCE(string_agg({row}, '|' ORDER BY {row}), ''))"
                " FROM {table} t"
            ).format(name=sql.Literal(table), table=sql.Identifier(table), row=_row(table))
            for table in _tables(conn)
        )
        # What the last take saw; callers compare a new take with it.
        self.last: Fingerprint = []

    def take(self) -> Fingerprint:
        return self._conn.execute(self._query).fetchall()

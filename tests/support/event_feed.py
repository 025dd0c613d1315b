"""Waiting for the stock event feed's sequencer: what tests and the bench read cursors after."""

from __future__ import annotations

import time
from typing import Any

import psycopg

# Unpositioned events lie at or above the sequencer's scan mark (migration 0008).
_CURSOR_AND_WAITING = """
SELECT (SELECT last_position FROM stock_event_cursor),
       EXISTS (SELECT 1 FROM stock_events
               WHERE serial >= (SELECT scan_from FROM stock_event_cursor) AND position IS NULL)
"""


def settled_cursor(conn: psycopg.Connection[Any], timeout: float = 10.0) -> int:
    """The last cursor given, once every committed event has one (or when `timeout` seconds
    have passed)."""
    deadline = time.monotonic() + timeout
    while True:
        row = conn.execute(_CURSOR_AND_WAITING).fetchone()
        assert row is not None
        if not row[1] or time.monotonic() > deadline:
            return int(row[0])
        time.sleep(0.05)

"""`python -m holdfast_ops audit` (also `python -m inventory_svc audit`): checks every invariant of
docs/architecture.md on the live database."""

from __future__ import annotations

import sys

import psycopg
from psycopg.rows import dict_row

from holdfast_common.settings import DatabaseSettings
from holdfast_ops.queries import Q

CHECKS = {
    "0 <= reserved <= on_hand at every (SKU, location)": Q.audit_reserved_within_on_hand,
    "reserved + unsellable states <= on_hand, every count >= 0": Q.audit_unsellable_within_on_hand,
    "reserved = sum of ACTIVE allocations there": Q.audit_reserved_equals_active_allocations,
    "backordered and preordered = sums over ACTIVE allocations there": (
        Q.audit_beyond_stock_equals_active_allocations
    ),
    "owed = sum of owed rows there": Q.audit_owed_equals_owed_rows,
    "incoming = what open receipts still expect there": Q.audit_incoming_equals_open_receipts,
    "backorder and preorder caps never exceeded": Q.audit_caps_never_exceeded,
    "every count = sum of its ledger deltas at every (SKU, location)": Q.audit_stock_equals_ledger,
    "a hold line's allocations sum to its quantity": Q.audit_allocations_sum_to_lines,
    "a pinned line is held at its pin": Q.audit_pinned_lines_stay_pinned,
    "one ledger row per allocation per hold transition": Q.audit_hold_ledger_rows,
    "hold ledger rows match allocations": Q.audit_ledger_rows_match_allocations,
    "a transfer's two ledger rows cancel out": Q.audit_transfers_pair_up,
    "a move's two ledger rows change no on_hand": Q.audit_moves_pair_up,
    "every hold has lines": Q.audit_holds_have_lines,
    "priced holds price every line": Q.audit_priced_holds_price_every_line,
    "one stock event per ledger row, per-(SKU, location) sequences dense": Q.audit_ledger_rows_have_one_event,
    "event cursors dense from the pruned mark to the last given": Q.audit_event_positions_dense,
}


def find_breaches(database_url: str) -> dict[str, list[str]]:
    """Breaches per invariant, read in one REPEATABLE READ snapshot so they are consistent."""
    breaches: dict[str, list[str]] = {}
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        for name, query in CHECKS.items():
            rows = conn.execute(query).fetchall()
            if rows:
                breaches[name] = [r["breach"] for r in rows]
    return breaches


def main() -> int:
    database = DatabaseSettings()
    if not database.database_url:
        print("audit: DATABASE_URL is not set (`make audit` sets it for you)", file=sys.stderr)
        return 2
    breaches = find_breaches(database.database_url)
    for name, lines in breaches.items():
        print(f"BREACH {name}: {len(lines)}")
        for line in lines[:50]:
            print(f"  {line}")
    if breaches:
        return 1
    print(f"audit: all {len(CHECKS)} invariants hold")
    return 0

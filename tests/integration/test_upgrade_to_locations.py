"""The upgrade to multi-location stock (migration 0005) keeps every number.

A scratch database is migrated only as far as the release before locations (0004) and filled
the way that release's code wrote its rows: stock per SKU, holds in every state (some ACTIVE
ones overdue, some priced), and the ledger rows that go with them. The remaining migrations
then run on it, and every SKU, ledger row, hold and line must come out with the numbers it went
in with, at location `default`, sold by channel `default`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from yoyo import read_migrations

from holdfast_ops.audit import find_breaches
from holdfast_ops.migrate import MIGRATIONS_DIR, apply_migrations
from tests.support.databases import scratch_database

# The last migration of the release before multi-location stock.
OLD_RELEASE = "0004.stock-notify"
DEFAULT = "default"


class OldRelease:
    """Writes rows as the code before multi-location stock did (schema 0001-0004): a stock row
    per SKU, one ledger row per change of it, one per hold line per hold transition."""

    def __init__(self, conn: psycopg.Connection, now: datetime) -> None:
        self.conn = conn
        self.now = now
        self.product_id = uuid.uuid4()
        category_id = uuid.uuid4()
        conn.execute("INSERT INTO categories (id, name) VALUES (%s, 'Shoes')", (category_id,))
        conn.execute(
            "INSERT INTO products (id, title, category_id, base_price_minor, currency)"
            " VALUES (%s, 'Trail runner', %s, 5990, 'USD')",
            (self.product_id, category_id),
        )

    def variant(self, sku: str, initial_on_hand: int) -> None:
        """CreateVariant: the stock row, and a RECEIVE row for any initial stock."""
        self.conn.execute(
            "INSERT INTO variants (id, product_id, sku) VALUES (%s, %s, %s)",
            (uuid.uuid4(), self.product_id, sku),
        )
        self.conn.execute("INSERT INTO stock (sku, on_hand) VALUES (%s, %s)", (sku, initial_on_hand))
        if initial_on_hand > 0:
            self.ledger(sku, initial_on_hand, 0, "RECEIVE", note="initial stock")

    def adjust(self, sku: str, delta: int, reason: str) -> None:
        """AdjustStock (RECEIVE or ADJUST)."""
        self.conn.execute("UPDATE stock SET on_hand = on_hand + %s WHERE sku = %s", (delta, sku))
        self.ledger(sku, delta, 0, reason, note=f"{reason.lower()} {delta}")

    def hold(
        self,
        owner_id: str,
        lines: dict[str, int],
        *,
        prices: dict[str, int] | None = None,
        customer_tier: str | None = None,
        overdue: bool = False,
    ) -> uuid.UUID:
        """CreateHold: an ACTIVE hold, its lines (priced or not), a HOLD row per line."""
        hold_id = uuid.uuid4()
        create_time = self.now - timedelta(hours=2)
        expire_time = self.now - timedelta(hours=1) if overdue else self.now + timedelta(days=1)
        self.conn.execute(
            "INSERT INTO holds (id, owner_id, state, create_time, expire_time, currency, customer_tier)"
            " VALUES (%s, %s, 'ACTIVE', %s, %s, %s, %s)",
            (hold_id, owner_id, create_time, expire_time, "USD" if prices else None, customer_tier),
        )
        for sku, quantity in lines.items():
            self.conn.execute(
                "INSERT INTO hold_lines (hold_id, sku, quantity, unit_price_minor) VALUES (%s, %s, %s, %s)",
                (hold_id, sku, quantity, prices[sku] if prices else None),
            )
            self.conn.execute("UPDATE stock SET reserved = reserved + %s WHERE sku = %s", (quantity, sku))
            self.ledger(sku, 0, quantity, "HOLD", hold_id=hold_id, request_id=f"{owner_id}-try-1")
        return hold_id

    def end(self, hold_id: uuid.UUID, state: str) -> None:
        """CommitHold, ReleaseHold or the sweeper's expiry: the terminal row per line."""
        reason = {"COMMITTED": "COMMIT", "RELEASED": "RELEASE", "EXPIRED": "EXPIRE"}[state]
        self.conn.execute(
            # An expired hold ends at its expire_time; the others a few minutes after creation.
            "UPDATE holds SET state = %(state)s, end_time = CASE WHEN %(expired)s THEN expire_time"
            " ELSE create_time + interval '5 minutes' END WHERE id = %(id)s",
            {"state": state, "expired": state == "EXPIRED", "id": hold_id},
        )
        lines = self.conn.execute("SELECT sku, quantity FROM hold_lines WHERE hold_id = %s", (hold_id,))
        for sku, quantity in lines.fetchall():
            sold = quantity if state == "COMMITTED" else 0
            self.conn.execute(
                "UPDATE stock SET on_hand = on_hand - %s, reserved = reserved - %s WHERE sku = %s",
                (sold, quantity, sku),
            )
            self.ledger(sku, -sold, -quantity, reason, hold_id=hold_id)

    def ledger(
        self,
        sku: str,
        delta_on_hand: int,
        delta_reserved: int,
        reason: str,
        *,
        hold_id: uuid.UUID | None = None,
        request_id: str | None = None,
        note: str = "",
    ) -> None:
        self.conn.execute(
            "INSERT INTO stock_ledger (sku, delta_on_hand, delta_reserved, reason, hold_id, request_id, note)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (sku, delta_on_hand, delta_reserved, reason, hold_id, request_id, note),
        )


def fill_as_old_release(conn: psycopg.Connection) -> None:
    """Every kind of row the old release left: each ledger reason, each hold state, overdue
    ACTIVE holds, priced holds with and without a tier, multi-SKU holds, a SKU fully reserved
    and one never stocked."""
    row = conn.execute("SELECT now()").fetchone()
    assert row is not None
    old = OldRelease(conn, row[0])
    old.variant("OLD-A", 100)
    old.variant("OLD-B", 30)
    old.variant("OLD-C", 0)
    old.variant("OLD-D", 0)  # never stocked: no ledger rows, no holds
    old.variant("OLD-E", 10)
    old.adjust("OLD-A", -5, "ADJUST")
    old.adjust("OLD-A", 20, "RECEIVE")
    old.adjust("OLD-C", 12, "RECEIVE")

    old.hold("cart-1", {"OLD-A": 3, "OLD-B": 2})
    old.hold("cart-2", {"OLD-A": 4}, overdue=True)
    old.hold("cart-3", {"OLD-B": 5, "OLD-C": 1}, prices={"OLD-B": 1999, "OLD-C": 450}, customer_tier="gold")
    old.end(old.hold("cart-4", {"OLD-A": 10, "OLD-B": 1}, prices={"OLD-A": 5490, "OLD-B": 1999}), "COMMITTED")
    old.end(old.hold("cart-5", {"OLD-C": 2}), "RELEASED")
    old.end(old.hold("cart-6", {"OLD-A": 7, "OLD-C": 3}, overdue=True), "EXPIRED")
    old.end(old.hold("cart-7", {"OLD-E": 2}), "COMMITTED")
    old.hold("cart-8", {"OLD-E": 8})  # OLD-E: on_hand 8, reserved 8, nothing available
    old.hold("cart-9", {"OLD-A": 1, "OLD-B": 1}, prices={"OLD-A": 5490, "OLD-B": 1999}, overdue=True)
    old.adjust("OLD-B", -3, "ADJUST")


@dataclass(frozen=True)
class Snapshot:
    """What the old release's rows say, in columns both schemas have."""

    # sku -> (on_hand, reserved), over every stock row of the SKU.
    stock: dict[str, tuple[int, int]]
    stock_rows: dict[str, int]
    # id -> (sku, delta_on_hand, delta_reserved, reason, hold_id, request_id, note, create_time)
    ledger: dict[int, tuple[Any, ...]]
    # id -> (owner_id, state, create_time, expire_time, end_time, currency, customer_tier)
    holds: dict[uuid.UUID, tuple[Any, ...]]
    # (hold_id, sku) -> (quantity, unit_price_minor)
    lines: dict[tuple[uuid.UUID, str], tuple[int, int | None]]
    # sku -> (sum of delta_on_hand, sum of delta_reserved)
    ledger_sums: dict[str, tuple[int, int]]
    # sku -> units held by ACTIVE holds
    active_held: dict[str, int]


def snapshot(conn: psycopg.Connection) -> Snapshot:
    stock_rows = conn.execute(
        "SELECT sku, sum(on_hand)::bigint, sum(reserved)::bigint, count(*) FROM stock GROUP BY sku"
    ).fetchall()
    ledger = conn.execute(
        "SELECT id, sku, delta_on_hand, delta_reserved, reason, hold_id, request_id, note, create_time"
        " FROM stock_ledger"
    ).fetchall()
    holds = conn.execute(
        "SELECT id, owner_id, state, create_time, expire_time, end_time, currency, customer_tier FROM holds"
    ).fetchall()
    lines = conn.execute("SELECT hold_id, sku, quantity, unit_price_minor FROM hold_lines").fetchall()
    sums = conn.execute(
        "SELECT sku, sum(delta_on_hand)::bigint, sum(delta_reserved)::bigint FROM stock_ledger GROUP BY sku"
    ).fetchall()
    held = conn.execute(
        "SELECT l.sku, sum(l.quantity)::bigint FROM hold_lines l JOIN holds h ON h.id = l.hold_id"
        " WHERE h.state = 'ACTIVE' GROUP BY l.sku"
    ).fetchall()
    return Snapshot(
        stock={sku: (on_hand, reserved) for sku, on_hand, reserved, _ in stock_rows},
        stock_rows={sku: count for sku, _, _, count in stock_rows},
        ledger={row[0]: tuple(row[1:]) for row in ledger},
        holds={row[0]: tuple(row[1:]) for row in holds},
        lines={(hold_id, sku): (quantity, price) for hold_id, sku, quantity, price in lines},
        ledger_sums={sku: (on_hand, reserved) for sku, on_hand, reserved in sums},
        active_held=dict(held),
    )


def overdue_holds(rows: Snapshot) -> list[uuid.UUID]:
    """The ACTIVE holds past their expire_time, which nothing has expired yet."""
    now = datetime.now(UTC)
    return [
        hold_id
        for hold_id, (_, state, _, expire_time, *_) in rows.holds.items()
        if state == "ACTIVE" and expire_time < now
    ]


@dataclass(frozen=True)
class Upgrade:
    url: str
    before: Snapshot
    after: Snapshot
    applied: int


def later_migrations() -> list[str]:
    return [m.id for m in read_migrations(str(MIGRATIONS_DIR)) if m.id > OLD_RELEASE]


@pytest.fixture(scope="module")
def upgrade(pg_server_url: str) -> Iterator[Upgrade]:
    """A database the old release filled, then upgraded to the current schema."""
    with scratch_database(pg_server_url, f"holdfast_t{os.getpid()}_upgrade") as url:
        assert apply_migrations(url, up_to=OLD_RELEASE) == 4
        with psycopg.connect(url) as conn:  # one transaction, as if one busy day
            fill_as_old_release(conn)
        with psycopg.connect(url, autocommit=True) as conn:
            before = snapshot(conn)
        applied = apply_migrations(url)
        with psycopg.connect(url, autocommit=True) as conn:
            after = snapshot(conn)
        yield Upgrade(url, before, after, applied)


def test_the_old_release_left_consistent_rows(upgrade: Upgrade) -> None:
    """The fixture itself: the old invariants hold, and every kind of row is there."""
    before = upgrade.before
    assert len(before.stock) == 5
    for sku, (on_hand, reserved) in before.stock.items():
        assert before.ledger_sums.get(sku, (0, 0)) == (on_hand, reserved), sku
        assert before.active_held.get(sku, 0) == reserved, sku
    assert before.stock["OLD-E"] == (8, 8)
    assert {row[3] for row in before.ledger.values()} == {
        "RECEIVE",
        "ADJUST",
        "HOLD",
        "COMMIT",
        "RELEASE",
        "EXPIRE",
    }
    assert {row[1] for row in before.holds.values()} == {"ACTIVE", "COMMITTED", "RELEASED", "EXPIRED"}
    assert len(overdue_holds(before)) == 2
    assert any(price is not None for _, price in before.lines.values())


def test_the_upgrade_applies_the_later_migrations_once(upgrade: Upgrade) -> None:
    assert later_migrations(), "no migration after the old release"
    assert upgrade.applied == len(later_migrations())
    assert apply_migrations(upgrade.url) == 0


def test_every_sku_keeps_its_levels_in_one_stock_row_at_default(upgrade: Upgrade) -> None:
    assert upgrade.after.stock == upgrade.before.stock
    assert upgrade.after.stock_rows == dict.fromkeys(upgrade.before.stock, 1)
    with psycopg.connect(upgrade.url) as conn:
        rows = conn.execute("SELECT sku, location, on_hand, reserved FROM stock").fetchall()
    assert {sku: (location, on_hand, reserved) for sku, location, on_hand, reserved in rows} == {
        sku: (DEFAULT, on_hand, reserved) for sku, (on_hand, reserved) in upgrade.before.stock.items()
    }


def test_every_ledger_row_is_kept_and_names_default(upgrade: Upgrade) -> None:
    assert upgrade.after.ledger == upgrade.before.ledger
    assert upgrade.after.ledger_sums == upgrade.before.ledger_sums
    with psycopg.connect(upgrade.url) as conn:
        locations = conn.execute("SELECT location, count(*) FROM stock_ledger GROUP BY location").fetchall()
    assert locations == [(DEFAULT, len(upgrade.before.ledger))]


def test_every_hold_line_is_allocated_whole_at_default(upgrade: Upgrade) -> None:
    assert upgrade.after.lines == upgrade.before.lines
    with psycopg.connect(upgrade.url) as conn:
        allocations = conn.execute("SELECT hold_id, sku, location, quantity FROM hold_allocations").fetchall()
        pins = conn.execute("SELECT count(*) FROM hold_lines WHERE location IS NOT NULL").fetchone()
    by_line: dict[tuple[uuid.UUID, str], list[tuple[str, int]]] = {}
    for hold_id, sku, location, quantity in allocations:
        by_line.setdefault((hold_id, sku), []).append((location, quantity))
    assert by_line == {line: [(DEFAULT, quantity)] for line, (quantity, _) in upgrade.before.lines.items()}
    assert pins == (0,), "the old release pinned no line"


def test_holds_keep_their_state_and_get_channel_default(upgrade: Upgrade) -> None:
    assert upgrade.after.holds == upgrade.before.holds
    with psycopg.connect(upgrade.url) as conn:
        channels = conn.execute(
            "SELECT channel, strategy, count(*) FROM holds GROUP BY channel, strategy"
        ).fetchall()
    assert channels == [(DEFAULT, "PRIORITY", len(upgrade.before.holds))]


def test_location_and_channel_default_exist(upgrade: Upgrade) -> None:
    with psycopg.connect(upgrade.url) as conn:
        locations = conn.execute("SELECT code, active FROM locations").fetchall()
        channels = conn.execute("SELECT code, strategy FROM channels").fetchall()
        sells_from = conn.execute(
            "SELECT c.code, cl.position, cl.location"
            " FROM channel_locations cl JOIN channels c ON c.id = cl.channel_id"
        ).fetchall()
    assert locations == [(DEFAULT, True)]
    assert channels == [(DEFAULT, "PRIORITY")]
    assert sells_from == [(DEFAULT, 0, DEFAULT)]


def test_the_audit_finds_no_breach(upgrade: Upgrade) -> None:
    assert find_breaches(upgrade.url) == {}


def test_the_ledger_is_still_append_only(upgrade: Upgrade) -> None:
    """The migration added a column without rewriting a row (the trigger would have refused
    it), and left the trigger in place."""
    with psycopg.connect(upgrade.url) as conn:
        trigger = conn.execute(
            "SELECT tgenabled FROM pg_trigger WHERE tgname = 'stock_ledger_append_only'"
            " AND tgrelid = 'stock_ledger'::regclass"
        ).fetchone()
        assert trigger == ("O",)  # fires on every ordinary session
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute("UPDATE stock_ledger SET location = location")
        conn.rollback()


def test_overdue_old_holds_expire_through_the_new_transition(upgrade: Upgrade) -> None:
    """The ACTIVE holds the old release left overdue give back their units at `default`
    (expire_holds, migration 0005); rolled back, so the other tests see the upgrade alone."""
    before = upgrade.before
    overdue = overdue_holds(before)
    freed: dict[str, int] = {}
    for (hold_id, sku), (quantity, _) in before.lines.items():
        if hold_id in overdue:
            freed[sku] = freed.get(sku, 0) + quantity
    with psycopg.connect(upgrade.url) as conn:
        changed = conn.execute(
            "SELECT sku, location, on_hand, reserved FROM expire_holds(%s)", (overdue,)
        ).fetchall()
        assert sorted(changed) == sorted(
            (sku, DEFAULT, before.stock[sku][0], before.stock[sku][1] - quantity)
            for sku, quantity in freed.items()
        )
        expire_rows = conn.execute(
            "SELECT sku, location, delta_reserved FROM stock_ledger"
            " WHERE reason = 'EXPIRE' AND hold_id = ANY(%s)",
            (overdue,),
        ).fetchall()
        assert sorted(expire_rows) == sorted(
            (sku, DEFAULT, -quantity)
            for (hold_id, sku), (quantity, _) in before.lines.items()
            if hold_id in overdue
        )
        conn.rollback()

"""Least-privilege database roles (holdfast_ops/roles.py): what each service's role may
and may not do, its timeouts, re-running and racing the bootstrap, and the whole product
working with each service connected as its own role, so a missing grant fails here.

Roles belong to the whole server: their names are unique to this test run, and they are
dropped at the end of the module."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from google.protobuf import field_mask_pb2
from holdfast.inventory.v1 import inventory_pb2 as ipb
from holdfast.pricing.v1 import pricing_pb2 as ppb
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.conninfo import make_conninfo

from holdfast_common.db.pool import SyncPool
from holdfast_common.settings import DatabaseClient
from holdfast_ops import roles as db_roles
from holdfast_ops.audit import find_breaches
from holdfast_ops.roles import RoleConfigError, RoleTimeouts, ServiceRole, bootstrap
from inventory_svc.stock_events import APPLICATION_NAME as LISTENER_NAME
from sweeper.database import APPLICATION_NAME as SWEEPER_NAME
from sweeper.database import LazyPool
from sweeper.expiry import sweep
from tests.conftest import (
    AnyProcessSettings,
    RunningInventory,
    RunningService,
    make_settings,
    new_database,
    start_inventory,
    start_pricing,
)
from tests.support.builders import category_row, hold_request, location_row, product_row, variant_row
from tests.support.databases import drop_database
from tests.support.grpc_helpers import Pricing, cents, new_request_id, usd_cents
from tests.support.metrics import scrape
from tests.support.ports import free_port
from tests.support.processes import run_module

# Values no default has, so each SHOW proves the role's own setting was applied.
TIMEOUTS = {
    "db_statement_timeout_ms": 23456,
    "db_lock_timeout_ms": 4321,
    "db_idle_in_transaction_timeout_ms": 34567,
}
SHOWN = {
    "statement_timeout": "23456ms",
    "lock_timeout": "4321ms",
    "idle_in_transaction_session_timeout": "34567ms",
}
SERVICES: tuple[DatabaseClient, ...] = ("inventory_svc", "pricing_svc", "sweeper")
DENIED = "42501"  # insufficient_privilege


@dataclass
class Roles:
    owner_url: str
    names: dict[DatabaseClient, str]
    urls: dict[DatabaseClient, str]

    def settings(self, **overrides: object) -> AnyProcessSettings:
        """Settings as a deployment with roles has them: DATABASE_URL the owner's, each
        service's own URL its role's."""
        values: dict[str, object] = {
            "inventory_database_url": self.urls["inventory_svc"],
            "pricing_database_url": self.urls["pricing_svc"],
            "sweeper_database_url": self.urls["sweeper"],
            **TIMEOUTS,
        }
        return make_settings(self.owner_url, **{**values, **overrides})


def unique_role_names(tag: str = "") -> dict[DatabaseClient, str]:
    run = f"holdfast_t{os.getpid()}_{uuid.uuid4().hex[:6]}{tag}"
    return {"inventory_svc": f"{run}_inventory", "pricing_svc": f"{run}_pricing", "sweeper": f"{run}_sweeper"}


def role_url(database_url: str, name: str) -> str:
    return make_conninfo(database_url, user=name, password=f"{name}-secret")


def drop_roles(owner_url: str, names: list[str]) -> None:
    """Drops the roles and every grant they have in the owner's database (the caller drops
    any other database first)."""
    idents = sql.SQL(", ").join(sql.Identifier(n) for n in names)
    with psycopg.connect(owner_url, autocommit=True) as conn:
        existing = [
            r[0] for r in conn.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (names,))
        ]
        if existing:
            idents = sql.SQL(", ").join(sql.Identifier(n) for n in existing)
            conn.execute(sql.SQL("DROP OWNED BY {}").format(idents))
            conn.execute(sql.SQL("DROP ROLE {}").format(idents))


@pytest.fixture(scope="module")
def roles(database_url: str) -> Iterator[Roles]:
    names = unique_role_names()
    made = Roles(database_url, names, {s: role_url(database_url, n) for s, n in names.items()})
    try:
        settings = made.settings()
        bootstrap(
            database_url,
            db_roles.service_roles(settings.database),
            RoleTimeouts.from_settings(settings.database),
        )
        yield made
    finally:
        drop_roles(database_url, list(names.values()))


def connect_as(roles: Roles, service: DatabaseClient) -> psycopg.Connection:
    """A plain connection as the service's role: no options, so only role-level settings apply."""
    return psycopg.connect(roles.urls[service], autocommit=True)


def assert_denied(conn: psycopg.Connection, statement: str) -> None:
    """`statement` touches no row (WHERE false) and reads no column (constants only), so it
    needs exactly the privilege it names: only its absence can refuse it."""
    with pytest.raises(pg_errors.InsufficientPrivilege) as refused:
        conn.execute(statement)
    assert refused.value.sqlstate == DENIED, statement


def value(conn: psycopg.Connection, query: str, *params: object) -> Any:
    """The one value `query` returns."""
    row = conn.execute(query, params or None).fetchone()
    assert row is not None, query
    return row[0]


def assert_allowed(conn: psycopg.Connection, statement: str) -> None:
    conn.execute(statement)


# Writes that must not get past the privilege check; none of them would change a row.
WRITES = {
    "stock": [
        "INSERT INTO stock (sku, on_hand) SELECT 'x', 1 WHERE false",
        "UPDATE stock SET on_hand = 0 WHERE false",
        "UPDATE stock SET reserved = 0 WHERE false",
        "DELETE FROM stock WHERE false",
    ],
    "holds": [
        "INSERT INTO holds (id, owner_id, create_time, expire_time) "
        "SELECT gen_random_uuid(), 'x', now(), now() WHERE false",
        "UPDATE holds SET state = 'EXPIRED' WHERE false",
        "DELETE FROM holds WHERE false",
    ],
    "hold_lines": [
        "INSERT INTO hold_lines (hold_id, sku, quantity) SELECT gen_random_uuid(), 'x', 1 WHERE false",
        "UPDATE hold_lines SET quantity = 1 WHERE false",
        "DELETE FROM hold_lines WHERE false",
    ],
    "stock_ledger": [
        "INSERT INTO stock_ledger (sku, delta_on_hand, delta_reserved, reason) "
        "SELECT 'x', 0, 0, 'ADJUST' WHERE false",
        "UPDATE stock_ledger SET note = '' WHERE false",
        "DELETE FROM stock_ledger WHERE false",
    ],
    "categories": [
        "INSERT INTO categories (id, name) SELECT gen_random_uuid(), 'x' WHERE false",
        "UPDATE categories SET name = '' WHERE false",
        "DELETE FROM categories WHERE false",
    ],
    "products": [
        "INSERT INTO products (id, title, base_price_minor, currency) "
        "SELECT gen_random_uuid(), 'x', 1, 'USD' WHERE false",
        "UPDATE products SET title = '' WHERE false",
        "DELETE FROM products WHERE false",
    ],
    "variants": [
        "INSERT INTO variants (id, product_id, sku) "
        "SELECT gen_random_uuid(), gen_random_uuid(), 'x' WHERE false",
        "UPDATE variants SET sku = '' WHERE false",
        "DELETE FROM variants WHERE false",
    ],
    "price_rules": [
        "INSERT INTO price_rules (id, name, stage, percent_off_bp, currency, customer_tier) "
        "SELECT gen_random_uuid(), 'x', 'TIER', 1, 'USD', 'gold' WHERE false",
        "UPDATE price_rules SET name = '' WHERE false",
        "DELETE FROM price_rules WHERE false",
    ],
}


def test_pricing_cannot_write_stock_holds_hold_lines_or_the_ledger(roles: Roles) -> None:
    with connect_as(roles, "pricing_svc") as conn:
        for table in ("stock", "holds", "hold_lines", "stock_ledger"):
            for statement in WRITES[table]:
                assert_denied(conn, statement)
        # Nor read holds or the ledger: prices need neither.
        assert_denied(conn, "SELECT 1 FROM holds WHERE false")
        assert_denied(conn, "SELECT 1 FROM stock_ledger WHERE false")
        for table in ("categories", "products", "variants"):
            for statement in WRITES[table]:
                assert_denied(conn, statement)
        assert_allowed(conn, "UPDATE price_rules SET name = '' WHERE false")


def test_the_sweeper_cannot_touch_the_catalog_price_rules_or_on_hand(roles: Roles) -> None:
    with connect_as(roles, "sweeper") as conn:
        for table in ("categories", "products", "variants", "price_rules"):
            for statement in WRITES[table]:
                assert_denied(conn, statement)
        assert_denied(conn, "SELECT 1 FROM price_rules WHERE false")
        # It frees reserved stock; it never changes what is on hand, nor makes holds.
        assert_denied(conn, "UPDATE stock SET on_hand = 0 WHERE false")
        assert_denied(conn, WRITES["holds"][0])
        assert_denied(conn, "UPDATE holds SET expire_time = now() WHERE false")
        assert_denied(conn, "UPDATE idempotency_keys SET response = NULL WHERE false")
        assert_allowed(conn, "UPDATE stock SET reserved = 0 WHERE false")


def test_inventory_cannot_write_price_rules_or_rewrite_the_ledger(roles: Roles) -> None:
    with connect_as(roles, "inventory_svc") as conn:
        for statement in WRITES["price_rules"]:
            assert_denied(conn, statement)
        for statement in (*WRITES["stock_ledger"][1:], WRITES["stock"][3], WRITES["holds"][2]):
            assert_denied(conn, statement)
        assert_denied(conn, "UPDATE idempotency_keys SET method = '' WHERE false")
        assert_denied(conn, "DELETE FROM idempotency_keys WHERE false")
        assert_allowed(conn, WRITES["stock_ledger"][0])


def test_inventory_manages_locations_and_channels_on_its_own_role(roles: Roles) -> None:
    """Every place write works as the inventory role; a code never changes and nothing is deleted."""
    inventory = start_inventory(roles.settings())
    try:
        stub, mask = inventory.stub, field_mask_pb2.FieldMask
        code = f"role-{uuid.uuid4().hex[:8]}"
        stub.CreateLocation(ipb.CreateLocationRequest(location=ipb.Location(code=code, name="a")))
        location = ipb.Location(code=code, name="b", active=False)
        stub.UpdateLocation(
            ipb.UpdateLocationRequest(location=location, update_mask=mask(paths=["name", "active"]))
        )
        channel = ipb.Channel(
            code=code, name="c", location_codes=[code], strategy=ipb.ALLOCATION_STRATEGY_PRIORITY
        )
        stub.CreateChannel(ipb.CreateChannelRequest(channel=channel))
        changed = ipb.Channel(
            code=code,
            name="d",
            location_codes=["default", code],
            strategy=ipb.ALLOCATION_STRATEGY_MOST_AVAILABLE,
        )
        paths = ["name", "location_codes", "strategy"]
        updated = stub.UpdateChannel(ipb.UpdateChannelRequest(channel=changed, update_mask=mask(paths=paths)))
        assert list(updated.channel.location_codes) == ["default", code]
    finally:
        inventory.stop()
    with connect_as(roles, "inventory_svc") as conn:
        for table in ("locations", "channels"):
            assert_denied(conn, f"UPDATE {table} SET code = '' WHERE false")
            assert_denied(conn, f"DELETE FROM {table} WHERE false")
        assert_denied(conn, "UPDATE channel_locations SET position = 0 WHERE false")


@pytest.mark.parametrize("service", SERVICES)
def test_only_the_owner_creates_anything(roles: Roles, service: DatabaseClient) -> None:
    with connect_as(roles, service) as conn:
        assert_denied(conn, "CREATE TABLE intruder (id int)")
        assert_denied(conn, "CREATE TEMPORARY TABLE intruder (id int)")
        assert_denied(conn, "CREATE SCHEMA intruder")
        assert_denied(conn, "CREATE FUNCTION intruder() RETURNS int LANGUAGE sql AS 'SELECT 1'")


@pytest.mark.parametrize("service", SERVICES)
def test_each_role_logs_in_with_its_timeouts(roles: Roles, service: DatabaseClient) -> None:
    with connect_as(roles, service) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (roles.names[service],)
        shown = {
            name: conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone() for name in SHOWN
        }
        assert shown == {name: (value,) for name, value in SHOWN.items()}


def ungranted_tables(conn: psycopg.Connection, role_names: list[str]) -> list[str]:
    """Tables of the schema that no service role may use at all."""
    rows = conn.execute(
        """
        SELECT c.relname
        FROM pg_class c
        WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
          AND NOT EXISTS (
              SELECT 1 FROM unnest(%s::text[]) AS r(name)
              WHERE has_any_column_privilege(r.name, c.oid, 'SELECT, INSERT, UPDATE')
                 OR has_table_privilege(r.name, c.oid, 'DELETE'))
        ORDER BY 1
        """,
        (role_names,),
    ).fetchall()
    return [r[0] for r in rows]


def test_every_table_is_granted_to_a_service_or_kept_by_the_owner(
    roles: Roles, db: psycopg.Connection
) -> None:
    names = list(roles.names.values())
    assert set(ungranted_tables(db, names)) == db_roles.OWNER_ONLY_TABLES
    # A migration that adds a table and forgets its grant is caught.
    db.execute("CREATE TABLE forgotten (id int)")
    try:
        bootstrap(
            roles.owner_url,
            db_roles.service_roles(roles.settings().database),
            RoleTimeouts.from_settings(roles.settings().database),
        )
        assert set(ungranted_tables(db, names)) == db_roles.OWNER_ONLY_TABLES | {"forgotten"}
    finally:
        db.execute("DROP TABLE forgotten")


def grants_snapshot(db: psycopg.Connection, role_names: list[str]) -> list[tuple[object, ...]]:
    """Every privilege and setting the roles have: tables, columns, schema, database, settings."""
    return db.execute(
        """
        SELECT 'table', c.relname, '', g.grantee::regrole::text, g.privilege_type
        FROM pg_class c, aclexplode(c.relacl) g
        WHERE c.relnamespace = current_schema()::regnamespace AND g.grantee::regrole::text = ANY(%(r)s)
        UNION ALL
        SELECT 'column', c.relname, a.attname, g.grantee::regrole::text, g.privilege_type
        FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid, aclexplode(a.attacl) g
        WHERE c.relnamespace = current_schema()::regnamespace AND g.grantee::regrole::text = ANY(%(r)s)
        UNION ALL
        SELECT 'schema', n.nspname, '', g.grantee::regrole::text, g.privilege_type
        FROM pg_namespace n, aclexplode(n.nspacl) g
        WHERE n.nspname = current_schema() AND g.grantee::regrole::text = ANY(%(r)s)
        UNION ALL
        SELECT 'database', d.datname, '', g.grantee::regrole::text, g.privilege_type
        FROM pg_database d, aclexplode(d.datacl) g
        WHERE d.datname = current_database() AND g.grantee::regrole::text = ANY(%(r)s)
        UNION ALL
        SELECT 'setting', r.rolname, '', s.setconfig::text, ''
        FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole
        WHERE r.rolname = ANY(%(r)s)
        ORDER BY 1, 2, 3, 4, 5
        """,
        {"r": role_names},
    ).fetchall()


@pytest.mark.parametrize(
    ("command", "says"),
    [
        # As the compose migrate job runs it: migrations, then the roles of the services' URLs.
        (["holdfast_ops.migrate"], "granted and limited"),
        # As `make migrate` and `make run` do.
        (["holdfast_dev.stack", "migrate"], "connects as"),
    ],
)
def test_running_the_bootstrap_again_takes_back_extra_grants_and_changes_nothing_else(
    roles: Roles, db: psycopg.Connection, command: list[str], says: str
) -> None:
    names = list(roles.names.values())
    before = grants_snapshot(db, names)
    pricing, sweeper = (sql.Identifier(roles.names[s]) for s in ("pricing_svc", "sweeper"))
    db.execute(sql.SQL("GRANT DELETE ON stock TO {}").format(pricing))
    db.execute(sql.SQL("GRANT CREATE ON SCHEMA public TO {}").format(sweeper))
    db.execute(sql.SQL("ALTER ROLE {} SET lock_timeout = 0").format(sweeper))
    assert grants_snapshot(db, names) != before

    env = {
        "DATABASE_URL": roles.owner_url,
        "INVENTORY_DATABASE_URL": roles.urls["inventory_svc"],
        "PRICING_DATABASE_URL": roles.urls["pricing_svc"],
        "SWEEPER_DATABASE_URL": roles.urls["sweeper"],
        **{key.upper(): str(value) for key, value in TIMEOUTS.items()},
    }
    done = run_module(*command, env=env)
    assert done.returncode == 0, done.stderr
    assert "0 migration(s) applied" in done.stdout
    assert done.stdout.count(says) == 3, done.stdout

    assert grants_snapshot(db, names) == before
    with connect_as(roles, "pricing_svc") as conn:
        assert_denied(conn, "DELETE FROM stock WHERE false")


def test_passwords_are_stored_hashed_and_kept_when_a_url_has_none(
    roles: Roles, db: psycopg.Connection
) -> None:
    name = roles.names["pricing_svc"]
    if not value(db, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
        pytest.skip("reading pg_authid needs a superuser")
    stored = value(db, "SELECT rolpassword FROM pg_authid WHERE rolname = %s", name)
    assert stored.startswith(("SCRAM-SHA-256$", "md5")), stored
    assert f"{name}-secret" not in stored

    no_password = ServiceRole("pricing_svc", name, None)
    bootstrap(roles.owner_url, [no_password], RoleTimeouts.from_settings(roles.settings().database))
    assert value(db, "SELECT rolpassword FROM pg_authid WHERE rolname = %s", name) == stored


def test_a_service_url_naming_the_owner_or_a_shared_role_is_refused(
    roles: Roles, db: psycopg.Connection
) -> None:
    owner = value(db, "SELECT current_user")
    before = grants_snapshot(db, list(roles.names.values()))
    as_owner = [*db_roles.service_roles(roles.settings().database)[:2], ServiceRole("sweeper", owner, None)]
    with pytest.raises(RoleConfigError, match="schema owner"):
        bootstrap(roles.owner_url, as_owner, RoleTimeouts.from_settings(roles.settings().database))
    # The transaction rolled back: the other two roles were not touched either.
    assert grants_snapshot(db, list(roles.names.values())) == before

    shared = roles.settings(sweeper_database_url=roles.urls["pricing_svc"])
    with pytest.raises(RoleConfigError, match="share a role"):
        db_roles.service_roles(shared.database)


def test_a_superuser_role_is_refused(roles: Roles, db: psycopg.Connection) -> None:
    if not value(db, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
        pytest.skip("making a superuser needs a superuser")
    name = unique_role_names("s")["sweeper"]
    db.execute(sql.SQL("CREATE ROLE {} SUPERUSER").format(sql.Identifier(name)))
    try:
        with pytest.raises(RoleConfigError, match="superuser"):
            bootstrap(roles.owner_url, [ServiceRole("sweeper", name, None)], RoleTimeouts(1, 1, 1))
    finally:
        db.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def test_bootstraps_racing_on_one_server_all_succeed(
    database_url: str, pg_server_url: str, template_database: str
) -> None:
    """Test runs on one server bootstrap at once; two databases sharing role names race on
    creating and altering the same roles, which no lock inside one database prevents."""
    names = unique_role_names("r")
    other_name, other_url = new_database(pg_server_url, template_database)
    roles = [ServiceRole(service, name, f"{name}-secret") for service, name in names.items()]  # as role_url
    timeouts = RoleTimeouts(1000, 1000, 1000)
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def run(url: str) -> None:
        try:
            start.wait(timeout=30)
            bootstrap(url, roles, timeouts)
        except BaseException as exc:  # reported below, with the others
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(url,)) for url in [database_url, other_url] * 3]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not errors, errors
        with psycopg.connect(role_url(other_url, names["sweeper"]), autocommit=True) as conn:
            assert conn.execute("SHOW lock_timeout").fetchone() == ("1s",)
            conn.execute("UPDATE stock SET reserved = 0 WHERE false")
    finally:
        drop_database(pg_server_url, other_name)
        drop_roles(database_url, list(names.values()))


def usernames_by_application(db: psycopg.Connection) -> dict[str, set[str]]:
    rows = db.execute(
        "SELECT application_name, usename FROM pg_stat_activity WHERE datname = current_database()"
    ).fetchall()
    found: dict[str, set[str]] = {}
    for application, user in rows:
        found.setdefault(application, set()).add(user)
    return found


def test_the_whole_product_works_with_each_service_on_its_own_role(
    roles: Roles, db: psycopg.Connection
) -> None:
    pricing = start_pricing(roles.settings())
    metrics_port = free_port()
    inventory = start_inventory(
        roles.settings(pricing_address=f"127.0.0.1:{pricing.port}", inventory_metrics_port=metrics_port)
    )
    sweeper_pool = LazyPool(roles.settings().database)
    try:
        _whole_flow(roles, db, inventory, pricing, sweeper_pool.get(), metrics_port)
    finally:
        sweeper_pool.close()
        inventory.stop()
        pricing.stop()
    assert find_breaches(roles.owner_url) == {}


def _whole_flow(
    roles: Roles,
    db: psycopg.Connection,
    inventory: RunningInventory,
    pricing: RunningService[Pricing],
    sweeper_pool: SyncPool,
    metrics_port: int,
) -> None:
    inv, stub = inventory.client, inventory.stub
    # Catalog.
    category = stub.CreateCategory(ipb.CreateCategoryRequest(name=f"coats-{uuid.uuid4().hex[:6]}")).category
    product = inv.product(title="Coat", category_id=category.id, price_cents=5000)
    sku = inv.sku(on_hand=10, product_id=product.id)
    other = inv.sku(on_hand=4, product_id=product.id)
    assert [p.id for p in stub.ListProducts(ipb.ListProductsRequest(category_id=category.id)).products] == [
        product.id
    ]
    assert stub.GetProduct(ipb.GetProductRequest(id=product.id)).product.title == "Coat"
    assert stub.GetVariant(ipb.GetVariantRequest(sku=sku)).variant.sku == sku
    assert len(stub.ListVariants(ipb.ListVariantsRequest(product_id=product.id)).variants) == 2
    assert stub.ListCategories(ipb.ListCategoriesRequest(page_size=500)).categories

    # Catalog import (upserts by natural key) and export (one snapshot).
    tag = uuid.uuid4().hex[:6]
    _, summary = inv.import_catalog(
        [
            location_row(f"roles-{tag}"),
            category_row(category.name, "lining"),
            product_row(product.handle, "Coat", 5000, category_path=(category.name,), description="warm"),
            variant_row(f"roles-{tag}", product.handle, 100),
        ]
    )
    assert (summary.created, summary.updated, summary.failed) == (3, 1, 0)
    assert product.handle in [row.product.handle for row in inv.export_catalog()]

    # Stock, watched from the start.
    watch = stub.WatchStockLevels(ipb.WatchStockLevelsRequest(skus=[sku]), timeout=30)
    first = next(watch).stock_level
    assert (first.sku, first.on_hand, first.reserved) == (sku, 10, 0)
    adjusted = stub.AdjustStock(
        ipb.AdjustStockRequest(
            request_id=new_request_id(), sku=sku, delta=5, reason=ipb.ADJUSTMENT_REASON_RECEIVE
        )
    ).stock_level
    assert adjusted.on_hand == 15
    assert next(watch).stock_level.on_hand == 15  # the LISTEN connection, as inventory's role
    watch.cancel()

    # Price rules and quotes.
    rule = pricing.client.rule(
        stage=ppb.PRICE_STAGE_TIER, percent_off_bps=1000, customer_tier="gold", category_id=category.id
    )
    changed = pricing.stub.UpdatePriceRule(
        ppb.UpdatePriceRuleRequest(
            request_id=new_request_id(),
            rule=ppb.PriceRule(id=rule.id, percent_off_bps=2000),
            update_mask={"paths": ["percent_off_bps"]},
        )
    ).rule
    assert changed.percent_off_bps == 2000
    assert pricing.stub.GetPriceRule(ppb.GetPriceRuleRequest(id=rule.id)).rule.id == rule.id
    assert pricing.stub.ListPriceRules(ppb.ListPriceRulesRequest()).rules
    assert cents(pricing.client.quote(sku, 2, "gold").line_total) == 8000
    cart = ppb.QuoteCartRequest(lines=[ppb.CartLine(sku=sku, quantity=1)], customer_tier="gold")
    assert cents(pricing.stub.QuoteCart(cart).quote.total) == 4000
    doomed = pricing.client.rule(stage=ppb.PRICE_STAGE_BULK, amount_off=usd_cents(100), min_quantity=50)
    pricing.stub.DeletePriceRule(ppb.DeletePriceRuleRequest(request_id=new_request_id(), id=doomed.id))

    # Holds: priced create (and its replay), extend, release, commit.
    def priced(lines: dict[str, int]) -> ipb.CreateHoldRequest:
        return hold_request(lines, owner_id="roles-cart", tier="gold")

    request = priced({sku: 2, other: 1})
    hold = stub.CreateHold(request).hold
    assert cents(hold.total) == 3 * 4000
    assert stub.CreateHold(request).hold == hold  # the stored first response
    extend = ipb.ExtendHoldRequest(request_id=new_request_id(), hold_id=hold.id)
    extend.ttl.FromSeconds(1200)
    assert stub.ExtendHold(extend).hold.expire_time.ToSeconds() > hold.expire_time.ToSeconds()
    released = stub.ReleaseHold(ipb.ReleaseHoldRequest(request_id=new_request_id(), hold_id=hold.id)).hold
    assert released.state == ipb.HOLD_STATE_RELEASED
    bought = stub.CreateHold(priced({sku: 3})).hold
    committed = stub.CommitHold(ipb.CommitHoldRequest(request_id=new_request_id(), hold_id=bought.id)).hold
    assert committed.state == ipb.HOLD_STATE_COMMITTED

    # Expiry: by the sweeper, and by a reserve that finds an overdue hold on its rows.
    by_sweeper = stub.CreateHold(priced({other: 2})).hold
    by_reserve = stub.CreateHold(priced({sku: 1})).hold
    db.execute(
        "UPDATE holds SET expire_time = now() - interval '1 minute' WHERE id = ANY(%s::uuid[])",
        ([by_sweeper.id, by_reserve.id],),
    )
    assert inv.hold({sku: 1}).state == ipb.HOLD_STATE_ACTIVE
    assert db.execute("SELECT state FROM holds WHERE id = %s", (by_reserve.id,)).fetchone() == ("EXPIRED",)
    # Idempotency records past retention, for the sweeper's purge.
    old = db.execute(
        "UPDATE idempotency_keys SET create_time = now() - interval '3 days' "
        "WHERE request_id IN (SELECT request_id FROM idempotency_keys ORDER BY create_time LIMIT 3) "
        "RETURNING request_id"
    ).fetchall()
    result = sweep(sweeper_pool, batch_size=100, time_budget=60, retention=timedelta(hours=24))
    assert (result.expired, result.purged) == (1, len(old))
    got = stub.GetHold(ipb.GetHoldRequest(id=by_sweeper.id)).hold
    assert got.state == ipb.HOLD_STATE_EXPIRED
    assert [h.id for h in stub.ListHolds(ipb.ListHoldsRequest(owner_id="roles-cart")).holds]
    levels = {x.sku: (x.on_hand, x.reserved) for x in (inv.level(sku), inv.level(other))}
    assert levels == {sku: (12, 1), other: (4, 0)}
    assert scrape(metrics_port).value("holdfast_holds_active") >= 1  # the holds gauge reads as inventory

    # Every connection above was its service's own role, not the owner's.
    users = usernames_by_application(db)
    assert users["inventory_svc"] == {roles.names["inventory_svc"]}
    assert users[LISTENER_NAME] == {roles.names["inventory_svc"]}
    assert users["pricing_svc"] == {roles.names["pricing_svc"]}
    assert users[SWEEPER_NAME] == {roles.names["sweeper"]}

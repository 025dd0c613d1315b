"""Least-privilege PostgreSQL roles for inventory_svc, pricing_svc and the sweeper.

`python -m holdfast_ops.roles` (`make roles`) runs as the schema owner (DATABASE_URL)
after the migrations. For each service whose own URL is set (INVENTORY_DATABASE_URL,
PRICING_DATABASE_URL, SWEEPER_DATABASE_URL) it creates the LOGIN role that URL names if it
is missing, sets the URL's password on it (hashed on this side, so the server never logs it),
grants exactly what sql/roles.sql lists for the service after taking away whatever else the
role had, and sets the role's statement, lock and idle-in-transaction timeouts. Everything
happens in one transaction, so a running service never sees a role half-granted, and running
it again (after each migration) brings the grants up to date.

LOGIN roles rather than NOLOGIN groups with login members: `ALTER ROLE ... SET` values apply
to the role that logs in, never through membership, so the timeouts have to sit on the login
role anyway, and one role per service keeps its grants and limits in one place.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import TupleRow

from holdfast_common.settings import DatabaseClient, DatabaseSettings
from holdfast_ops.queries import Q

# The grants of each service, by the process names settings use.
GRANTS: dict[DatabaseClient, str] = {
    "inventory_svc": Q.grant_inventory,
    "pricing_svc": Q.grant_pricing,
    "sweeper": Q.grant_sweeper,
}
# yoyo's bookkeeping: migrations run as the owner, so no service is granted these.
OWNER_ONLY_TABLES = frozenset({"_yoyo_log", "_yoyo_migration", "_yoyo_version", "yoyo_lock"})

# Roles are shared by every database of the server: a bootstrap of another database with
# the same role names may create one between our look and our write (a unique violation), or
# alter one we alter too ("tuple concurrently updated", an internal error). The whole
# transaction is then run again, and finds the role as the other left it.
_RACES = (pg_errors.UniqueViolation, pg_errors.DuplicateObject, pg_errors.InternalError_)
_ATTEMPTS = 5


@dataclass(frozen=True)
class ServiceRole:
    """The role one service connects as; `password` None leaves the role's password alone."""

    service: DatabaseClient
    name: str
    password: str | None


@dataclass(frozen=True)
class RoleTimeouts:
    """Milliseconds; 0 turns a limit off."""

    statement_ms: int
    lock_ms: int
    idle_in_transaction_ms: int

    @classmethod
    def from_settings(cls, database: DatabaseSettings) -> RoleTimeouts:
        return cls(
            database.db_statement_timeout_ms,
            database.db_lock_timeout_ms,
            database.db_idle_in_transaction_timeout_ms,
        )


class RoleConfigError(ValueError):
    """The service URLs name roles that cannot be made least-privilege."""


def service_roles(database: DatabaseSettings) -> list[ServiceRole]:
    """The role each service's own URL names; services without a URL of their own are left out."""
    roles = []
    for service, url in database.service_database_urls().items():
        if not url:
            continue
        params = conninfo_to_dict(url)
        name = params.get("user")
        if not name:
            raise RoleConfigError(f"the database URL of {service} names no user")
        password = params.get("password")
        roles.append(ServiceRole(service, str(name), str(password) if password else None))
    names = [role.name for role in roles]
    if len(set(names)) != len(names):
        raise RoleConfigError(f"services must not share a role: {names}")
    return roles


def bootstrap(owner_url: str, roles: Sequence[ServiceRole], timeouts: RoleTimeouts) -> None:
    """Creates, grants and limits `roles` on the owner's schema, in one transaction."""
    with psycopg.connect(owner_url, autocommit=True) as conn:
        verifiers = {
            role.name: conn.pgconn.encrypt_password(role.password.encode(), role.name.encode()).decode()
            for role in roles
            if role.password is not None
        }
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                with conn.transaction():
                    _apply(conn, roles, verifiers, timeouts)
                return
            except _RACES:
                if attempt == _ATTEMPTS:
                    raise
                time.sleep(random.uniform(0, 0.1 * attempt))  # apart from the other racer


def _apply(
    conn: psycopg.Connection[TupleRow],
    roles: Sequence[ServiceRole],
    verifiers: dict[str, str],
    timeouts: RoleTimeouts,
) -> None:
    conn.execute(Q.lock_bootstrap)
    row = conn.execute(Q.where_we_are).fetchone()
    assert row is not None
    owner, schema, database = (str(value) for value in row)
    where = {"schema": sql.Identifier(schema), "database": sql.Identifier(database)}
    conn.execute(sql.SQL(Q.harden_schema).format(**where))
    for role in roles:
        if role.name == owner:
            raise RoleConfigError(f"{role.service} would connect as the schema owner {owner}")
        _ensure_login(conn, role, verifiers.get(role.name))
        ident = sql.Identifier(role.name)
        conn.execute(sql.SQL(Q.reset_role).format(role=ident, **where))
        conn.execute(sql.SQL(GRANTS[role.service]).format(role=ident))
        conn.execute(
            sql.SQL(Q.role_timeouts).format(
                role=ident,
                statement_timeout=sql.Literal(timeouts.statement_ms),
                lock_timeout=sql.Literal(timeouts.lock_ms),
                idle_in_transaction_session_timeout=sql.Literal(timeouts.idle_in_transaction_ms),
            )
        )


def _ensure_login(conn: psycopg.Connection[TupleRow], role: ServiceRole, verifier: str | None) -> None:
    """Creates the role if it is missing; makes sure it can log in, with `verifier` if given."""
    row = conn.execute(Q.role_is_superuser, {"name": role.name}).fetchone()
    if row is not None and row[0]:
        raise RoleConfigError(f"role {role.name} of {role.service} is a superuser: no grant would bind it")
    statement = Q.create_login_role if row is None else Q.make_role_login
    password: sql.Composable = sql.SQL("")
    if verifier is not None:
        password = sql.SQL(Q.password_clause).format(verifier=sql.Literal(verifier))
    conn.execute(sql.SQL(statement).format(role=sql.Identifier(role.name), password=password))


def update_roles(owner_url: str, database: DatabaseSettings) -> list[ServiceRole]:
    """Brings the roles of the service URLs up to date on the owner's database (none set: nothing)."""
    roles = service_roles(database)
    if roles:
        bootstrap(owner_url, roles, RoleTimeouts.from_settings(database))
    return roles


def main() -> int:
    """`python -m holdfast_ops.roles`: the roles of the service URLs, on DATABASE_URL."""
    database = DatabaseSettings()
    if not database.database_url:
        print("db_roles: DATABASE_URL (the schema owner's) is not set", file=sys.stderr)
        return 2
    try:
        roles = update_roles(database.database_url, database)
    except RoleConfigError as exc:
        print(f"db_roles: {exc}", file=sys.stderr)
        return 2
    if not roles:
        print("db_roles: no service database URL is set; every service connects as DATABASE_URL")
    for role in roles:
        print(f"db_roles: {role.service} connects as {role.name}: granted and limited", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

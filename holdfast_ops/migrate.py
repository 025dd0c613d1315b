"""Applies the plain-SQL migrations in holdfast_ops/migrations/ with yoyo."""

from __future__ import annotations

from importlib.resources import files

from yoyo import get_backend, read_migrations

# A folder of the installed package (yoyo reads a directory path), not one beside a checkout.
MIGRATIONS_DIR = files("holdfast_ops") / "migrations"


def yoyo_url(database_url: str) -> str:
    """yoyo names its psycopg-3 backend postgresql+psycopg://."""
    scheme, _, rest = database_url.partition("://")
    if scheme not in ("postgres", "postgresql", "postgresql+psycopg"):
        raise ValueError(f"not a PostgreSQL URL: {scheme}://…")
    return f"postgresql+psycopg://{rest}"


def apply_migrations(database_url: str, up_to: str | None = None) -> int:
    """Applies every pending migration, or only those whose id sorts <= `up_to` (e.g.
    "0004.stock-notify", to build a database as an older release left it); returns how many
    were applied."""
    backend = get_backend(yoyo_url(database_url))
    try:
        migrations = read_migrations(str(MIGRATIONS_DIR))
        if up_to is not None:
            migrations = migrations.filter(lambda migration: migration.id <= up_to)
        with backend.lock():
            pending = backend.to_apply(migrations)
            backend.apply_migrations(pending)
        return len(pending)
    finally:
        backend.connection.close()  # a template database must have no open sessions


def main() -> int:
    """`python -m holdfast_ops.migrate`: applies pending migrations to DATABASE_URL, then,
    when services have URLs of their own, brings their roles up to date (holdfast_ops.roles)."""
    from holdfast_common.settings import DatabaseSettings
    from holdfast_ops import roles as db_roles

    database = DatabaseSettings()
    url = database.database_url
    if not url:
        print("migrate: DATABASE_URL is not set", flush=True)
        return 2
    print(f"migrate: {apply_migrations(url)} migration(s) applied", flush=True)
    # A migration may add a table or a column a service uses: its grant follows at once.
    if any(database.service_database_urls().values()):
        return db_roles.main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

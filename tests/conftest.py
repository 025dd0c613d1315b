"""Test infrastructure: a real PostgreSQL (DATABASE_URL, or embedded), a fresh database per
module cloned from a migrated template, and the inventory server on port 0."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

import psycopg
import pytest

from holdfast_common.settings import InventoryServiceSettings, PricingServiceSettings, SweeperProcessSettings
from holdfast_dev.infra import DATA_DIR, start_embedded_postgres, stop_embedded
from holdfast_ops.audit import find_breaches
from holdfast_ops.migrate import apply_migrations
from inventory_svc.server import create_server
from pricing_svc.server import create_server as create_pricing_server
from tests.support.databases import create_database, drop_database
from tests.support.db_fingerprint import TableFingerprints
from tests.support.grpc_helpers import Inventory, Pricing
from tests.support.server_thread import ServerThread

# Names are per pytest process so two runs on one server never collide.
_PREFIX = f"holdfast_t{os.getpid()}"
_counter = itertools.count()
C = TypeVar("C")


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A PostgreSQL server URL: DATABASE_URL when set, else an embedded server under .data/."""
    given = os.environ.get("DATABASE_URL")
    if given:
        yield given
        return
    yield start_embedded_postgres(DATA_DIR / "test-postgres")
    stop_embedded()


@pytest.fixture(scope="session")
def template_database(pg_server_url: str) -> Iterator[str]:
    """A database with every migration applied, cloned by each test module."""
    name = f"{_PREFIX}_template"
    drop_database(pg_server_url, name)
    apply_migrations(create_database(pg_server_url, name))
    yield name
    drop_database(pg_server_url, name)


def new_database(pg_server_url: str, template: str) -> tuple[str, str]:
    """A fresh migrated database; returns (name, url)."""
    name = f"{_PREFIX}_{next(_counter)}"
    return name, create_database(pg_server_url, name, template=template)


@pytest.fixture(scope="module")
def database_url(pg_server_url: str, template_database: str) -> Iterator[str]:
    """A fresh database for one test module; every invariant must hold when the module ends."""
    name, url = new_database(pg_server_url, template_database)
    yield url
    breaches = find_breaches(url)
    drop_database(pg_server_url, name)
    assert not breaches, f"invariants broken by this module: {breaches}"


class AnyProcessSettings(InventoryServiceSettings, PricingServiceSettings, SweeperProcessSettings):
    """Every process's sections, so one value starts any of them in a test."""


def make_settings(database_url: str, **overrides: object) -> AnyProcessSettings:
    """Settings by flat variable name (lower case) over the environment's."""
    values: dict[str, object] = {
        "database_url": database_url,
        "db_pool_min_size": 2,
        "db_pool_max_size": 8,
        "shutdown_grace_seconds": 1.0,
    }
    values.update(overrides)
    return AnyProcessSettings.with_values(**values)


@dataclass
class RunningService(Generic[C]):
    """A service on 127.0.0.1:port in a background thread, and a client of it."""

    client: C
    port: int
    settings: AnyProcessSettings
    thread: ServerThread

    @property
    def stub(self):
        return self.client.stub  # type: ignore[attr-defined]

    def stop(self) -> None:
        self.client.close()  # type: ignore[attr-defined]
        self.thread.stop()


RunningInventory = RunningService[Inventory]


def start_inventory(settings: AnyProcessSettings) -> RunningInventory:
    """Starts an inventory server on 127.0.0.1:0 in a background thread."""
    thread = ServerThread(lambda: create_server(settings, "127.0.0.1:0"))
    running = thread.start()
    return RunningService(Inventory(f"127.0.0.1:{running.port}"), running.port, settings, thread)


def start_pricing(settings: AnyProcessSettings) -> RunningService[Pricing]:
    """Starts a pricing server on 127.0.0.1:0 in a background thread."""
    thread = ServerThread(lambda: create_pricing_server(settings, "127.0.0.1:0"))
    running = thread.start()
    return RunningService(Pricing(f"127.0.0.1:{running.port}"), running.port, settings, thread)


@pytest.fixture(scope="module")
def inventory(database_url: str) -> Iterator[RunningInventory]:
    """The inventory service on the module's database."""
    server = start_inventory(make_settings(database_url))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pricing(database_url: str) -> Iterator[RunningService[Pricing]]:
    """The pricing service on the module's database."""
    server = start_pricing(make_settings(database_url))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def priced_inventory(database_url: str, pricing: RunningService[Pricing]) -> Iterator[RunningInventory]:
    """An inventory service that locks prices with the module's pricing service."""
    server = start_inventory(make_settings(database_url, pricing_address=f"127.0.0.1:{pricing.port}"))
    yield server
    server.stop()


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection]:
    """A direct autocommit connection to the module's database, for assertions."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def fingerprints(database_url: str) -> Iterator[TableFingerprints]:
    """Fingerprints of every table of the module's database, to show a call changed nothing."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield TableFingerprints(conn)

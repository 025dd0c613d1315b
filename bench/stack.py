"""The stack under test: a scratch database, and inventory_svc and pricing_svc as processes
with their default settings (or with security on), on ports the system picks."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from bench.drivers import Targets
from bench.processes import Child
from bench.security import StackSecurity
from holdfast_ops.migrate import apply_migrations
from tests.support.databases import scratch_database

_LISTENING = r"{} listening on port (\d+)"


@contextlib.contextmanager
def migrated_scratch_database(server_url: str, name: str) -> Iterator[str]:
    """A migrated database of its own on the server, dropped afterwards whatever happens."""
    with scratch_database(server_url, name) as url:
        apply_migrations(url)
        yield url


def child_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of every child: ours, the scratch database, and `extra`."""
    return dict(os.environ, DATABASE_URL=database_url, PYTHONUNBUFFERED="1", **extra)


class Services:
    """pricing_svc, then inventory_svc pointing at it, each on 127.0.0.1:0; with `security`,
    both serve mutual TLS, want tokens, and inventory_svc calls pricing_svc with both."""

    def __init__(self, security: StackSecurity | None = None) -> None:
        self.children: list[Child] = []
        self.security = security
        self.targets = Targets("", "", security)

    def start(self, database_url: str, log_dir: Path) -> Targets:
        """Starts both and waits until they listen; stop() also stops a half-started stack."""
        security = self.security
        secured = security.server_env() if security else {}
        env = child_env(database_url, PRICING_LISTEN="127.0.0.1:0", **secured)
        pricing = self._start("pricing", "pricing_svc", env, log_dir)
        pricing_address = f"127.0.0.1:{pricing.wait_for(_LISTENING.format('pricing_svc')).group(1)}"
        secured = security.inventory_env() if security else {}
        env = child_env(
            database_url, INVENTORY_LISTEN="127.0.0.1:0", PRICING_ADDRESS=pricing_address, **secured
        )
        inventory = self._start("inventory", "inventory_svc", env, log_dir)
        inventory_address = f"127.0.0.1:{inventory.wait_for(_LISTENING.format('inventory_svc')).group(1)}"
        self.targets = Targets(inventory=inventory_address, pricing=pricing_address, security=security)
        return self.targets

    def _start(self, name: str, module: str, env: dict[str, str], log_dir: Path) -> Child:
        child = Child(name, [module], env, log_dir / f"{name}.log")
        self.children.append(child)
        return child

    def check_alive(self) -> None:
        """A service that died under load is a crash, not a slow result."""
        for child in self.children:
            child.ensure_running()

    def peak_rss_mb(self) -> dict[str, float]:
        return {child.name: child.peak_rss_mb() for child in self.children}

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop_session()

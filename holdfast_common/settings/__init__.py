"""Configuration from environment variables, in sections (docs/configuration.md lists them all).

Each section is read from flat variables with no prefix; each kind of process composes the
sections it reads (processes.py) and passes each function the section it needs."""

from __future__ import annotations

from holdfast_common.settings.database import DatabaseClient, DatabaseSettings
from holdfast_common.settings.dev import DevSettings
from holdfast_common.settings.events import EventSettings
from holdfast_common.settings.holds import HoldSettings
from holdfast_common.settings.observability import ObservabilitySettings
from holdfast_common.settings.pricing_client import PricingClientSettings
from holdfast_common.settings.processes import (
    ClientSettings,
    InventoryServiceSettings,
    PricingServiceSettings,
    ProcessSettings,
    ServiceSettings,
    SweeperProcessSettings,
)
from holdfast_common.settings.quotes import QuoteSettings
from holdfast_common.settings.section import Section
from holdfast_common.settings.security import SecuritySettings
from holdfast_common.settings.server import ServerSettings
from holdfast_common.settings.sweeper import SweeperSettings

# Every section, by the title the configuration page gives it, in the page's order.
SECTIONS: dict[str, type[Section]] = {
    "Database": DatabaseSettings,
    "Server": ServerSettings,
    "Security": SecuritySettings,
    "Holds": HoldSettings,
    "Quotes": QuoteSettings,
    "Pricing client": PricingClientSettings,
    "Sweeper": SweeperSettings,
    "Events": EventSettings,
    "Observability": ObservabilitySettings,
    "Development": DevSettings,
}


def variable_names() -> set[str]:
    """Every environment variable some section reads, upper case."""
    return {name for section in SECTIONS.values() for name in section.variable_names().values()}


__all__ = [
    "SECTIONS",
    "ClientSettings",
    "DatabaseClient",
    "DatabaseSettings",
    "DevSettings",
    "EventSettings",
    "HoldSettings",
    "InventoryServiceSettings",
    "ObservabilitySettings",
    "PricingClientSettings",
    "PricingServiceSettings",
    "ProcessSettings",
    "QuoteSettings",
    "Section",
    "SecuritySettings",
    "ServerSettings",
    "ServiceSettings",
    "SweeperProcessSettings",
    "SweeperSettings",
    "variable_names",
]

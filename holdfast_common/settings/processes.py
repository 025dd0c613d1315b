"""Each kind of process's settings: the sections it reads, and nothing else.

A process reads each of its sections from the environment once; variables of sections it does
not read are never looked at."""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, Field

from holdfast_common.settings.database import DatabaseClient, DatabaseSettings
from holdfast_common.settings.events import EventSettings
from holdfast_common.settings.holds import HoldSettings
from holdfast_common.settings.observability import ObservabilitySettings
from holdfast_common.settings.pricing_client import PricingClientSettings
from holdfast_common.settings.quotes import QuoteSettings
from holdfast_common.settings.section import Section
from holdfast_common.settings.security import SecuritySettings
from holdfast_common.settings.server import ServerSettings
from holdfast_common.settings.sweeper import SweeperSettings


class ProcessSettings(BaseModel):
    """A process's sections, each read from the environment unless given."""

    @classmethod
    def sections(cls) -> dict[str, type[Section]]:
        """The section class of each field."""
        found: dict[str, type[Section]] = {}
        for name, field in cls.model_fields.items():
            assert isinstance(field.annotation, type) and issubclass(field.annotation, Section), name
            found[name] = field.annotation
        return found

    @classmethod
    def with_values(cls, **values: Any) -> Self:
        """These settings with `values` (by variable name, lower case) over the environment's;
        a name no section of this process reads is a TypeError, not silently dropped."""
        sections = cls.sections()
        unknown = set(values).difference(*(section.model_fields for section in sections.values()))
        if unknown:
            raise TypeError(f"{cls.__name__} reads no setting named {sorted(unknown)}")
        return cls(
            **{
                name: section(**{k: v for k, v in values.items() if k in section.model_fields})
                for name, section in sections.items()
            }
        )

    @classmethod
    def from_environment(cls) -> Self:
        """The process-wide settings of this kind, read once from the environment."""
        loaded = _loaded.get(cls)
        if not isinstance(loaded, cls):
            loaded = _loaded[cls] = cls()
        return loaded


_loaded: dict[type[ProcessSettings], ProcessSettings] = {}


class ServiceSettings(ProcessSettings):
    """What every gRPC service process reads."""

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)

    def for_service(self, service: DatabaseClient) -> Self:
        """These settings with the database section as `service` connects (its own URL when set)."""
        return self.model_copy(update={"database": self.database.for_service(service)})


class InventoryServiceSettings(ServiceSettings):
    """inventory_svc: holds, and its pricing client (whose batches are quotes)."""

    holds: HoldSettings = Field(default_factory=HoldSettings)
    events: EventSettings = Field(default_factory=EventSettings)
    quotes: QuoteSettings = Field(default_factory=QuoteSettings)
    pricing_client: PricingClientSettings = Field(default_factory=PricingClientSettings)


class PricingServiceSettings(ServiceSettings):
    """pricing_svc: quotes."""

    quotes: QuoteSettings = Field(default_factory=QuoteSettings)


class SweeperProcessSettings(ProcessSettings):
    """The sweeper's worker and scheduler (the scheduler declares the actor, whose pool it never opens)."""

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    sweeper: SweeperSettings = Field(default_factory=SweeperSettings)
    events: EventSettings = Field(default_factory=EventSettings)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)


class ClientSettings(ProcessSettings):
    """A client of the services (the healthchecks, `make seed`): their addresses, and how to
    call them securely."""

    server: ServerSettings = Field(default_factory=ServerSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)

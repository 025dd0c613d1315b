"""PostgreSQL: the URLs each process connects with, its pool, and every connection's limits."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from holdfast_common.settings.section import Section

# The processes that connect to the database, by the names they run under.
DatabaseClient = Literal["inventory_svc", "pricing_svc", "sweeper"]


class DatabaseSettings(Section):
    """Where each process connects, how many connections it keeps, and the server-side limits
    set on every pooled connection."""

    database_url: str = Field(
        default="",
        description="PostgreSQL URL of the schema owner (migrations, `make roles`, the audit, and "
        "every service without a URL of its own); unset under `make run`/`make test` means embedded",
    )
    inventory_database_url: str = Field(
        default="",
        description="the URL inventory_svc connects with, as its own least-privilege role; unset: "
        "`DATABASE_URL`",
    )
    pricing_database_url: str = Field(
        default="",
        description="the URL pricing_svc connects with, as its own least-privilege role; unset: "
        "`DATABASE_URL`",
    )
    sweeper_database_url: str = Field(
        default="",
        description="the URL the sweeper connects with, as its own least-privilege role; unset: "
        "`DATABASE_URL`",
    )
    db_pool_min_size: int = Field(default=4, ge=1, description="connections a service process keeps open")
    db_pool_max_size: int = Field(default=16, ge=1, description="most connections per process")
    db_pool_timeout: float = Field(
        default=10.0, gt=0, description="seconds a call waits for a pooled connection before UNAVAILABLE"
    )
    db_lock_timeout_ms: int = Field(
        default=5000,
        ge=0,
        description="`lock_timeout` of every connection (a timeout is ABORTED); also set on the service "
        "roles",
    )
    db_statement_timeout_ms: int = Field(
        default=15000,
        ge=0,
        description="`statement_timeout` of every connection; also set on the service roles",
    )
    db_idle_in_transaction_timeout_ms: int = Field(
        default=60000,
        ge=0,
        description="`idle_in_transaction_session_timeout` of every connection; also set on the service "
        "roles",
    )

    def for_service(self, service: DatabaseClient) -> DatabaseSettings:
        """These settings as `service` connects: DATABASE_URL replaced by its own URL when set."""
        own = self.service_database_urls()[service]
        return self.model_copy(update={"database_url": own}) if own else self

    def service_database_urls(self) -> dict[DatabaseClient, str]:
        """Each service's own database URL ("" where it connects with DATABASE_URL)."""
        return {
            "inventory_svc": self.inventory_database_url,
            "pricing_svc": self.pricing_database_url,
            "sweeper": self.sweeper_database_url,
        }

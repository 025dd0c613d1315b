"""Configuration from environment variables (see the README's configuration table)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    # Unset: `make run` / `make test` start an embedded server and set these.
    database_url: str = ""
    redis_url: str = ""

    inventory_listen: str = "127.0.0.1:50051"
    pricing_listen: str = "127.0.0.1:50052"
    # Where inventory_svc reaches pricing_svc to lock the prices of a priced hold.
    pricing_address: str = "127.0.0.1:50052"
    # Deadline of that call; past it CreateHold fails UNAVAILABLE and holds nothing.
    pricing_timeout_seconds: float = Field(default=2.0, gt=0)

    db_pool_min_size: int = Field(default=4, ge=1)
    db_pool_max_size: int = Field(default=16, ge=1)
    # Seconds a request waits for a pooled connection before UNAVAILABLE.
    db_pool_timeout: float = Field(default=10.0, gt=0)
    # Server-side limits set on every pooled connection.
    db_lock_timeout_ms: int = Field(default=5000, ge=0)
    db_statement_timeout_ms: int = Field(default=15000, ge=0)
    db_idle_in_transaction_timeout_ms: int = Field(default=60000, ge=0)
    # Each service connects with its own URL when set (its least-privilege role, README
    # "Database roles"), else with DATABASE_URL, which stays the schema owner's: migrations,
    # `make roles` (it creates the roles these URLs name) and the audit use it. The three
    # limits above are also set on those roles.
    inventory_database_url: str = ""
    pricing_database_url: str = ""
    sweeper_database_url: str = ""

    hold_default_ttl_seconds: int = Field(default=900, gt=0)
    hold_max_ttl_seconds: int = Field(default=3600, gt=0)
    # ExtendHold never pushes expire_time past create_time + this.
    hold_max_lifetime_seconds: int = Field(default=7200, gt=0)
    max_lines_per_hold: int = Field(default=100, gt=0)
    max_quantity_per_line: int = Field(default=10_000, gt=0)
    # CreateHolds that arrive together share one transaction (one lock per SKU, one
    # commit): at most this many per batch; one batch at a time, and up to this many
    # while the running ones are stuck (on a lock, say); a request waits at most this
    # long for its batch before ABORTED.
    hold_batch_max_size: int = Field(default=64, gt=0)
    hold_batch_concurrency: int = Field(default=4, gt=0)
    hold_batch_max_wait_seconds: float = Field(default=5.0, gt=0)
    # Concurrent quotes in pricing_svc share their two catalog reads the same way.
    quote_batch_max_size: int = Field(default=64, gt=0)
    quote_batch_concurrency: int = Field(default=4, gt=0)

    store_currency: str = Field(default="USD", min_length=3, max_length=3)
    default_page_size: int = Field(default=50, gt=0)
    max_page_size: int = Field(default=500, gt=0)
    # Signs page tokens so a forged one is refused; set it in production.
    page_token_secret: str = "holdfast-dev-page-token-secret"

    # Largest gRPC message a service receives or sends; a bigger request is refused by
    # grpc itself with RESOURCE_EXHAUSTED before any of our code sees it.
    grpc_max_message_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)

    # Seconds in-flight calls get to finish after SIGTERM/SIGINT.
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    log_level: str = "INFO"

    # Prometheus /metrics over HTTP, one port per process role; 0 turns it off, so
    # local runs and tests never fight over a port (the README suggests 9101-9104).
    metrics_host: str = "127.0.0.1"
    inventory_metrics_port: int = Field(default=0, ge=0, le=65535)
    pricing_metrics_port: int = Field(default=0, ge=0, le=65535)
    sweeper_worker_metrics_port: int = Field(default=0, ge=0, le=65535)
    sweeper_scheduler_metrics_port: int = Field(default=0, ge=0, le=65535)
    # OpenTelemetry tracing (holdfast_common/observability/tracing.py): OTLP over HTTP/protobuf to
    # <this>/v1/traces, e.g. http://otel-collector:4318; unset turns tracing off.
    otel_exporter_otlp_endpoint: str = ""

    # Transport security (README "Security"); all unset: plaintext, no tokens, no rate limit.
    # Servers: TLS with this PEM certificate chain and key; with a client CA, mutual TLS
    # (a client certificate signed by it is required).
    tls_cert_file: str = ""
    tls_key_file: str = ""
    tls_client_ca_file: str = ""
    # Outbound calls (pricing client, healthchecks, `make seed`): TLS when a CA is set,
    # presenting this client certificate when given (servers that require mTLS).
    tls_ca_file: str = ""
    tls_client_cert_file: str = ""
    tls_client_key_file: str = ""
    # Bearer tokens: a JSON list of {"caller", "sha256", "scopes"} inline or in a file;
    # auth is on when any is configured, unless AUTH_ENABLED says otherwise.
    auth_enabled: bool | None = None
    auth_tokens: str = ""
    auth_tokens_file: str = ""
    auth_open_health: bool = True
    auth_open_reflection: bool = False
    # Plaintext tokens this process sends: to pricing_svc (needs pricing:read), and from
    # `make seed` and the healthchecks (when health is not open).
    pricing_token: str = ""
    client_token: str = ""
    # Per-caller token bucket (the token's caller, else the peer's IP); 0 turns it off.
    rate_limit_per_second: float = Field(default=0.0, ge=0)
    rate_limit_burst: int = Field(default=50, ge=1)

    # Sweeper: the scheduler sends expire_holds every interval; one run expires
    # holds batch_size per transaction until none is overdue or its budget is spent.
    sweeper_interval_seconds: float = Field(default=5.0, gt=0)
    sweeper_batch_size: int = Field(default=500, gt=0)
    # The overdue holds are split into this many partitions, each walked by one run
    # at a time: the scheduler sends this many messages per tick, so as many runs
    # (worker threads) sweep at once. Every process must use the same value.
    sweeper_partitions: int = Field(default=2, ge=1, le=8)
    sweeper_time_budget_seconds: float = Field(default=30.0, gt=0)
    # DESIGN.md promises request_ids are kept at least 24 h.
    idempotency_retention_hours: float = Field(default=24.0, ge=24)
    # A dead leading scheduler is replaced within this many seconds.
    sweeper_leader_ttl_seconds: float = Field(default=15.0, gt=0)
    # Prefix of every Redis key (queue, leader lock), so deployments can share a Redis.
    sweeper_redis_namespace: str = Field(default="holdfast", min_length=1)

    def for_service(self, service: DatabaseClient) -> Settings:
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


# The processes that connect to the database, by the names they run under.
DatabaseClient = Literal["inventory_svc", "pricing_svc", "sweeper"]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()

"""What both gRPC services share: where they listen, what they accept, how they page and stop."""

from __future__ import annotations

from pydantic import Field

from holdfast_common.settings.section import Section


class ServerSettings(Section):
    """The gRPC servers: their addresses (also dialled by the healthchecks and `make seed`),
    message size, shutdown, and the conventions of their API (currency, pages)."""

    inventory_listen: str = Field(
        default="127.0.0.1:50051",
        description="inventory_svc listen address (`host:0` picks a free port); the address the "
        "`holdfast` command dials",
    )
    pricing_listen: str = Field(default="127.0.0.1:50052", description="pricing_svc listen address")
    grpc_max_message_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1024,
        description="largest gRPC message either service receives or sends; grpc itself refuses a "
        "bigger request with RESOURCE_EXHAUSTED before any of our code sees it",
    )
    shutdown_grace_seconds: float = Field(
        default=10.0, ge=0, description="seconds in-flight calls get to finish after SIGTERM/SIGINT"
    )
    store_currency: str = Field(
        default="USD", min_length=3, max_length=3, description="the one currency prices are kept in"
    )
    default_page_size: int = Field(
        default=50, gt=0, description="AIP-158 page size of a list call that asks for none"
    )
    max_page_size: int = Field(
        default=500, gt=0, description="largest AIP-158 page size; bigger asks are cut to it"
    )
    page_token_secret: str = Field(
        default="holdfast-dev-page-token-secret",
        description="key that signs page tokens so a forged one is refused; set it in production",
    )

"""How inventory_svc reaches pricing_svc to lock the prices of a priced hold."""

from __future__ import annotations

from pydantic import Field

from holdfast_common.settings.section import Section


class PricingClientSettings(Section):
    """inventory_svc's calls to pricing_svc (over TLS as the security settings say; batched as
    the quote settings say)."""

    pricing_address: str = Field(
        default="127.0.0.1:50052", description="where inventory_svc reaches pricing_svc for priced holds"
    )
    pricing_timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        description="deadline of that quote; past it a priced CreateHold fails UNAVAILABLE and holds nothing",
    )
    pricing_token: str = Field(
        default="",
        description="the plaintext bearer token inventory_svc sends pricing_svc (needs `pricing:read`)",
    )

"""Transport security, bearer tokens and the rate limit (docs/operations.md, "Security")."""

from __future__ import annotations

from pydantic import Field

from holdfast_common.settings.section import Section


class SecuritySettings(Section):
    """TLS for the servers and for outbound calls, bearer-token auth, and the per-caller rate
    limit. All unset: plaintext, no tokens, no rate limit."""

    tls_cert_file: str = Field(
        default="", description="the servers' PEM certificate chain; set (with the key), they serve TLS only"
    )
    tls_key_file: str = Field(
        default="", description="the servers' PEM private key, set with `TLS_CERT_FILE`"
    )
    tls_client_ca_file: str = Field(
        default="", description="set: mutual TLS, clients must present a certificate signed by this CA"
    )
    tls_ca_file: str = Field(
        default="",
        description="outbound calls (pricing client, healthchecks, `make seed`, `holdfast`) use TLS, "
        "trusting this CA",
    )
    tls_client_cert_file: str = Field(
        default="", description="the client certificate outbound calls present (servers that require mTLS)"
    )
    tls_client_key_file: str = Field(default="", description="the key of `TLS_CLIENT_CERT_FILE`")
    auth_enabled: bool | None = Field(
        default=None,
        description="unset: auth is on when any token is configured; `false` turns it off whatever "
        "is configured; `true` with no token refuses to start",
    )
    auth_tokens: str = Field(
        default="",
        description='bearer tokens as a JSON list of `{"caller", "sha256", "scopes"}`; any set turns auth on',
    )
    auth_tokens_file: str = Field(
        default="", description="a file holding more tokens in the form of `AUTH_TOKENS`"
    )
    auth_open_health: bool = Field(
        default=True, description="with auth on, whether health answers without a token"
    )
    auth_open_reflection: bool = Field(
        default=False, description="with auth on, whether reflection answers without a token"
    )
    client_token: str = Field(
        default="",
        description="the plaintext bearer token `make seed`, the `holdfast` command and the healthchecks "
        "send (when health is not open)",
    )
    rate_limit_per_second: float = Field(
        default=0.0,
        ge=0,
        description="per-caller token bucket (the token's caller, else the peer's IP): calls a second; 0 "
        "turns it off",
    )
    rate_limit_burst: int = Field(default=50, ge=1, description="the most calls a caller's bucket saves up")

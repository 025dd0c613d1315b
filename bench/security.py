"""`--secure`: the stack measured with security on. Mutual TLS on every hop (load generator
-> service, inventory_svc -> pricing_svc) with development certificates made for the run,
and bearer-token auth on both services with tokens made for the run (only their digests
reach the services' AUTH_TOKENS)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from holdfast_common.security.auth import auth_tokens_json
from holdfast_dev.certs import CertPaths, generate

# What the report and the JSON say about a run's security.
SECURE = "mTLS + bearer tokens"
PLAIN = "off (plaintext, no tokens)"

# The load generator's caller name in the services' call log.
BENCH_CALLER = "bench"
# inventory_svc's caller name in pricing_svc's call log.
PRICING_CALLER = "inventory_svc"
_BENCH_SCOPES = ["inventory:read", "inventory:write", "pricing:read"]
_PRICING_SCOPES = ["pricing:read"]


@dataclass(frozen=True)
class StackSecurity:
    """One run's certificates and tokens, as the environments of the processes that use them."""

    certs: CertPaths
    client_token: str
    pricing_token: str

    @classmethod
    def create(cls, directory: Path) -> StackSecurity:
        """Fresh certificates in `directory` and fresh random tokens."""
        return cls(generate(directory), secrets.token_urlsafe(32), secrets.token_urlsafe(32))

    def _client_tls(self) -> dict[str, str]:
        return {
            "TLS_CA_FILE": str(self.certs.ca),
            "TLS_CLIENT_CERT_FILE": str(self.certs.client_cert),
            "TLS_CLIENT_KEY_FILE": str(self.certs.client_key),
        }

    def server_env(self) -> dict[str, str]:
        """Both services: mutual TLS, and auth knowing both tokens by their digests."""
        grants = [
            (BENCH_CALLER, self.client_token, _BENCH_SCOPES),
            (PRICING_CALLER, self.pricing_token, _PRICING_SCOPES),
        ]
        return {
            "TLS_CERT_FILE": str(self.certs.server_cert),
            "TLS_KEY_FILE": str(self.certs.server_key),
            "TLS_CLIENT_CA_FILE": str(self.certs.ca),
            "AUTH_TOKENS": auth_tokens_json(grants),
        }

    def inventory_env(self) -> dict[str, str]:
        """inventory_svc also calls pricing_svc over mutual TLS with its own token."""
        return {**self.server_env(), **self._client_tls(), "PRICING_TOKEN": self.pricing_token}

    def load_env(self) -> dict[str, str]:
        """The load generator's settings (read by `bench.load --secure`)."""
        return {**self._client_tls(), "CLIENT_TOKEN": self.client_token}

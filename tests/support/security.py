"""Test helpers for transport security: certificate sets, TLS channels, configured tokens."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from holdfast_common.rpc.channels import bearer
from holdfast_common.security.auth import auth_tokens_json
from holdfast_dev.certs import CertPaths


@dataclass(frozen=True)
class Token:
    """A bearer token a test configures (by digest) and presents (in plaintext)."""

    caller: str
    scopes: tuple[str, ...]
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return bearer(self.secret)


def auth_tokens(*tokens: Token) -> str:
    """The AUTH_TOKENS value granting `tokens`."""
    return auth_tokens_json((t.caller, t.secret, t.scopes) for t in tokens)


def server_tls(certs: CertPaths, mutual: bool = False) -> dict[str, object]:
    """Settings for a server with `certs`' server certificate (requiring client ones if mutual)."""
    values: dict[str, object] = {
        "tls_cert_file": str(certs.server_cert),
        "tls_key_file": str(certs.server_key),
    }
    if mutual:
        values["tls_client_ca_file"] = str(certs.ca)
    return values


def client_tls(certs: CertPaths, with_certificate: bool = True) -> dict[str, object]:
    """Settings for outbound calls trusting `certs`' CA, presenting its client certificate."""
    values: dict[str, object] = {"tls_ca_file": str(certs.ca)}
    if with_certificate:
        values["tls_client_cert_file"] = str(certs.client_cert)
        values["tls_client_key_file"] = str(certs.client_key)
    return values


def tls_channel(target: str, ca: Path, client: CertPaths | None = None) -> grpc.Channel:
    """A channel trusting `ca`, presenting `client`'s client certificate when given."""
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca.read_bytes(),
        private_key=client.client_key.read_bytes() if client else None,
        certificate_chain=client.client_cert.read_bytes() if client else None,
    )
    return grpc.secure_channel(target, credentials)

"""`python -m holdfast_dev.certs DIR`: a development CA, a server and a client certificate.

Writes ca.pem, server.pem + server-key.pem (for localhost, 127.0.0.1, ::1, inventory and
pricing) and client.pem + client-key.pem into DIR, and does nothing when they are all there
already. The CA's key is not kept: to add a certificate, make a new set. For development,
tests and the docker-compose stack; use your own PKI in production.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_DNS_NAMES = ("localhost", "inventory", "pricing")
SERVER_IPS = ("127.0.0.1", "::1")
FILES = ("ca.pem", "server.pem", "server-key.pem", "client.pem", "client-key.pem")
VALIDITY = datetime.timedelta(days=825)


@dataclass(frozen=True)
class CertPaths:
    """Where one generated set lives."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def paths(directory: Path) -> CertPaths:
    return CertPaths(*(directory / name for name in FILES))


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "holdfast development"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _builder(subject: str, issuer: x509.Name, key: ec.EllipticCurvePrivateKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # An hour back: a clock a little behind the machine that made it still accepts it.
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + VALIDITY)
    )


def _leaf(
    subject: str,
    ca: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    usage: x509.ObjectIdentifier,
    names: list[x509.GeneralName],
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _builder(subject, ca.subject, key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def _write(path: Path, data: bytes, private: bool = False) -> None:
    # Keys readable by their owner only: the services run as that same user.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as file:
        file.write(data)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def generate(directory: Path, ca_name: str = "holdfast development CA") -> CertPaths:
    """Writes a fresh CA, server and client certificate into `directory` (made if missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        _builder(ca_name, _name(ca_name), ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_names: list[x509.GeneralName] = [x509.DNSName(name) for name in SERVER_DNS_NAMES]
    server_names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in SERVER_IPS]
    server, server_key = _leaf("holdfast server", ca, ca_key, ExtendedKeyUsageOID.SERVER_AUTH, server_names)
    client, client_key = _leaf("holdfast client", ca, ca_key, ExtendedKeyUsageOID.CLIENT_AUTH, [])
    out = paths(directory)
    _write(out.ca, _pem(ca))
    _write(out.server_cert, _pem(server))
    _write(out.server_key, _key_pem(server_key), private=True)
    _write(out.client_cert, _pem(client))
    _write(out.client_key, _key_pem(client_key), private=True)
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m holdfast_dev.certs DIR", file=sys.stderr)
        return 2
    directory = Path(argv[0])
    if all((directory / name).exists() for name in FILES):
        print(f"devcerts: {directory} already holds a certificate set; nothing to do", flush=True)
        return 0
    generate(directory)
    print(f"devcerts: wrote {', '.join(FILES)} to {directory}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

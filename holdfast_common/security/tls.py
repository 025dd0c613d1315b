"""TLS and mutual TLS from the certificate files the settings name, for servers and clients."""

from __future__ import annotations

import grpc

from holdfast_common.settings import SecuritySettings


class SecurityConfigError(ValueError):
    """A security setting that cannot work; the message names the setting."""


def read_pem(setting: str, path: str) -> bytes:
    """The contents of the file `setting` names; SecurityConfigError when it cannot be read."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as exc:
        raise SecurityConfigError(f"{setting.upper()}={path!r} cannot be read: {exc.strerror}") from None
    if b"-----BEGIN " not in data:
        raise SecurityConfigError(f"{setting.upper()}={path!r} holds no PEM data")
    return data


def _pair(security: SecuritySettings, cert: str, key: str) -> tuple[bytes, bytes] | None:
    """(key, chain) from two settings that must be set together; None when neither is."""
    cert_path, key_path = getattr(security, cert), getattr(security, key)
    if not cert_path and not key_path:
        return None
    if not cert_path or not key_path:
        missing, given = (cert, key) if not cert_path else (key, cert)
        raise SecurityConfigError(f"{given.upper()} is set but {missing.upper()} is not: set both")
    return read_pem(key, key_path), read_pem(cert, cert_path)


def server_credentials(security: SecuritySettings) -> grpc.ServerCredentials | None:
    """TLS for a server (mutual when TLS_CLIENT_CA_FILE is set), or None for plaintext."""
    pair = _pair(security, "tls_cert_file", "tls_key_file")
    if pair is None:
        if security.tls_client_ca_file:
            raise SecurityConfigError("TLS_CLIENT_CA_FILE needs TLS_CERT_FILE and TLS_KEY_FILE")
        return None
    client_ca = (
        read_pem("tls_client_ca_file", security.tls_client_ca_file) if security.tls_client_ca_file else None
    )
    return grpc.ssl_server_credentials(
        [pair], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


def channel_credentials(security: SecuritySettings) -> grpc.ChannelCredentials | None:
    """TLS for an outbound channel when TLS_CA_FILE is set (with the client certificate when
    given, for mTLS), or None for plaintext."""
    pair = _pair(security, "tls_client_cert_file", "tls_client_key_file")
    if not security.tls_ca_file:
        if pair is not None:
            raise SecurityConfigError("TLS_CLIENT_CERT_FILE needs TLS_CA_FILE (outbound TLS)")
        return None
    root = read_pem("tls_ca_file", security.tls_ca_file)
    key, chain = pair if pair is not None else (None, None)
    return grpc.ssl_channel_credentials(root_certificates=root, private_key=key, certificate_chain=chain)

"""A container healthcheck for a gRPC service: grpc.health.v1 Health/Check on its own port."""

from __future__ import annotations

import sys
from collections.abc import Callable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from holdfast_common.rpc.channels import bearer, open_channel
from holdfast_common.security.tls import SecurityConfigError
from holdfast_common.settings import ClientSettings, SecuritySettings, ServerSettings

# Long enough for a busy service to answer, short enough to fail well inside the
# orchestrator's own healthcheck timeout.
DEADLINE_SECONDS = 3.0
# A server listening on every interface is reached on loopback from inside its container.
_WILDCARD_HOSTS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "[::]": "[::1]"}


def local_address(listen: str) -> str:
    """The address to dial for a server that listens on `listen` ("host:port")."""
    host, _, port = listen.rpartition(":")
    if not port.isdigit() or int(port) == 0:
        raise ValueError(f"no fixed port in listen address {listen!r}")
    return f"{_WILDCARD_HOSTS.get(host, host)}:{port}"


def check(address: str, security: SecuritySettings, timeout: float = DEADLINE_SECONDS) -> int:
    """The server's overall health status (service ""); raises grpc.RpcError when it cannot
    answer. Over TLS when TLS_CA_FILE is set, with CLIENT_TOKEN when health is not open."""
    if security.tls_cert_file and not security.tls_ca_file:
        raise SecurityConfigError("TLS_CERT_FILE is set: the healthcheck needs TLS_CA_FILE to verify it")
    with open_channel(address, security) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        request = health_pb2.HealthCheckRequest(service="")
        # types-grpcio-health-checking declares HealthStub without its methods.
        response = stub.Check(  # type: ignore[attr-defined]
            request, timeout=timeout, metadata=bearer(security.client_token)
        )
        return int(response.status)


def main(listen_of: Callable[[ServerSettings], str]) -> int:
    """Exits 0 only when the service at `listen_of(server settings)` answers SERVING."""
    settings = ClientSettings.from_environment()
    try:
        address = local_address(listen_of(settings.server))
        status = check(address, settings.security)
    except ValueError as exc:  # SecurityConfigError too
        print(f"healthcheck: {exc}", file=sys.stderr)
        return 2
    except grpc.RpcError as exc:
        print(f"healthcheck: {address}: {exc.code().name}", file=sys.stderr)
        return 1
    name = health_pb2.HealthCheckResponse.ServingStatus.Name(status)
    print(f"healthcheck: {address}: {name}")
    return 0 if status == health_pb2.HealthCheckResponse.SERVING else 1

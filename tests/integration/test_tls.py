"""TLS and mutual TLS on real servers: who gets an answer, and inventory -> pricing over mTLS."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from holdfast.inventory.v1 import inventory_pb2 as ipb
from holdfast.inventory.v1 import inventory_pb2_grpc

from holdfast_common.security.scopes import INVENTORY_READ, INVENTORY_WRITE, PRICING_READ, SCOPES
from holdfast_dev.certs import FILES, CertPaths, generate
from tests.conftest import RunningService, make_settings, start_inventory, start_pricing
from tests.support.grpc_helpers import Pricing, failure, new_request_id, usd_cents
from tests.support.processes import run_module
from tests.support.security import Token, auth_tokens, client_tls, server_tls, tls_channel

INVENTORY_CALLER = Token("inventory_svc", (PRICING_READ,))
SHOP = Token("shop", (INVENTORY_READ, INVENTORY_WRITE))
ADMIN = Token("admin", tuple(sorted(SCOPES)))


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertPaths:
    return generate(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def other_certs(tmp_path_factory: pytest.TempPathFactory) -> CertPaths:
    """A set from another CA: its client certificate must not open an mTLS server of `certs`."""
    return generate(tmp_path_factory.mktemp("other-certs"), ca_name="another CA")


@pytest.fixture(scope="module")
def tls_pricing(database_url, certs) -> Iterator[RunningService[Pricing]]:
    """pricing_svc over mutual TLS, with auth on: only inventory_svc's token may quote."""
    settings = make_settings(
        database_url, **server_tls(certs, mutual=True), auth_tokens=auth_tokens(INVENTORY_CALLER, ADMIN)
    )
    server = start_pricing(settings)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def tls_inventory(database_url, certs, tls_pricing):
    """inventory_svc over mutual TLS with auth on, calling pricing over mTLS with its token."""
    settings = make_settings(
        database_url,
        **server_tls(certs, mutual=True),
        **client_tls(certs),
        auth_tokens=auth_tokens(SHOP, ADMIN),
        pricing_address=f"localhost:{tls_pricing.port}",
        pricing_token=INVENTORY_CALLER.secret,
    )
    server = start_inventory(settings)
    yield server
    server.stop()


def test_devcerts_writes_a_set_once_and_keeps_it(tmp_path):
    directory = tmp_path / "certs"
    first = _run("holdfast_dev.certs", str(directory))
    assert first.returncode == 0, first.stderr
    written = {path.name: path.read_bytes() for path in directory.iterdir()}
    assert set(written) == set(FILES)
    # Keys are for the service user only.
    assert {oct(path.stat().st_mode & 0o777) for path in directory.glob("*-key.pem")} == {"0o600"}
    again = _run("holdfast_dev.certs", str(directory))
    assert again.returncode == 0, again.stderr
    assert {path.name: path.read_bytes() for path in directory.iterdir()} == written


def _list_categories(channel: grpc.Channel) -> ipb.ListCategoriesResponse:
    stub = inventory_pb2_grpc.InventoryServiceStub(channel)
    return stub.ListCategories(ipb.ListCategoriesRequest(), metadata=SHOP.metadata, timeout=10)


def _handshake_refused(channel: grpc.Channel) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as raised, channel:
        _list_categories(channel)
    return raised.value.code()


def test_a_tls_server_answers_a_client_trusting_its_ca_and_refuses_plaintext(
    database_url, certs, other_certs
):
    server = start_inventory(make_settings(database_url, **server_tls(certs)))
    try:
        target = f"127.0.0.1:{server.port}"
        with tls_channel(target, certs.ca) as channel:
            _list_categories(channel)
        # The server's handshake fails for a plaintext client and for one trusting another CA.
        assert _handshake_refused(grpc.insecure_channel(target)) == grpc.StatusCode.UNAVAILABLE
        assert _handshake_refused(tls_channel(target, other_certs.ca)) == grpc.StatusCode.UNAVAILABLE
    finally:
        server.stop()


def test_mutual_tls_needs_a_client_certificate_from_the_configured_ca(tls_inventory, certs, other_certs):
    target = f"localhost:{tls_inventory.port}"
    assert _handshake_refused(tls_channel(target, certs.ca)) == grpc.StatusCode.UNAVAILABLE
    assert _handshake_refused(tls_channel(target, certs.ca, other_certs)) == grpc.StatusCode.UNAVAILABLE
    with tls_channel(target, certs.ca, certs) as channel:
        _list_categories(channel)


def test_a_priced_hold_is_quoted_over_mutual_tls_with_the_inventory_services_token(tls_inventory, certs):
    with tls_channel(f"127.0.0.1:{tls_inventory.port}", certs.ca, certs) as channel:
        stub = inventory_pb2_grpc.InventoryServiceStub(channel)
        product = stub.CreateProduct(
            ipb.CreateProductRequest(title="Lamp", base_price=usd_cents(2500)), metadata=SHOP.metadata
        ).product
        stub.CreateVariant(
            ipb.CreateVariantRequest(product_id=product.id, sku="TLS-LAMP", initial_on_hand=5),
            metadata=SHOP.metadata,
        )
        request = ipb.CreateHoldRequest(
            request_id=new_request_id(),
            owner_id="cart-tls",
            lines=[ipb.HoldLine(sku="TLS-LAMP", quantity=2)],
            pricing=ipb.HoldPricing(),
        )
        hold = stub.CreateHold(request, metadata=SHOP.metadata).hold
    assert [line.unit_price.units for line in hold.lines] == [25]
    assert hold.total.units == 50


def test_pricing_refuses_inventory_without_its_token_and_the_hold_says_pricing_is_unavailable(
    database_url, certs, tls_pricing
):
    settings = make_settings(
        database_url, **client_tls(certs), pricing_address=f"127.0.0.1:{tls_pricing.port}"
    )
    server = start_inventory(settings)
    try:
        sku = server.client.sku(on_hand=3)
        request = ipb.CreateHoldRequest(
            request_id=new_request_id(),
            owner_id="cart-no-token",
            lines=[ipb.HoldLine(sku=sku, quantity=1)],
            pricing=ipb.HoldPricing(),
        )
        with pytest.raises(grpc.RpcError) as raised:
            server.stub.CreateHold(request)
        refused = failure(raised.value)
        assert (refused.code, refused.reason) == (grpc.StatusCode.UNAVAILABLE, "PRICING_UNAVAILABLE")
        assert refused.metadata["pricing_status"] == "UNAUTHENTICATED"
        assert server.client.level(sku).reserved == 0
    finally:
        server.stop()


def _run(module: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_module(module, *args, env=env, timeout=30)


def _env(values: dict[str, object]) -> dict[str, str]:
    return {key.upper(): str(value) for key, value in values.items()}


def test_the_healthcheck_passes_against_a_tls_and_auth_server_with_health_open(tls_inventory, certs):
    listen = {"INVENTORY_LISTEN": f"0.0.0.0:{tls_inventory.port}"}
    passed = _run("inventory_svc.healthcheck", **listen, **_env(client_tls(certs)))
    assert passed.returncode == 0, passed.stderr
    assert "SERVING" in passed.stdout
    # Without its client certificate the mTLS handshake fails, so the check does too.
    refused = _run("inventory_svc.healthcheck", **listen, **_env(client_tls(certs, False)))
    assert refused.returncode == 1, refused.stdout


def test_the_healthcheck_sends_client_token_when_health_is_protected(database_url, certs):
    checker = Token("healthcheck", ())
    settings = make_settings(
        database_url, **server_tls(certs), auth_tokens=auth_tokens(checker), auth_open_health=False
    )
    server = start_pricing(settings)
    try:
        env = {"PRICING_LISTEN": f"127.0.0.1:{server.port}", **_env(client_tls(certs, False))}
        refused = _run("pricing_svc.healthcheck", **env)
        assert refused.returncode == 1, refused.stdout
        assert "UNAUTHENTICATED" in refused.stderr
        passed = _run("pricing_svc.healthcheck", **env, CLIENT_TOKEN=checker.secret)
        assert passed.returncode == 0, passed.stderr
        with tls_channel(f"127.0.0.1:{server.port}", certs.ca) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            response = health.Check(health_pb2.HealthCheckRequest(), metadata=checker.metadata, timeout=10)  # type: ignore[attr-defined]
            assert response.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        server.stop()


def test_make_seed_loads_the_demo_over_mutual_tls_with_client_token(tls_inventory, tls_pricing, certs):
    env = {
        "INVENTORY_LISTEN": f"localhost:{tls_inventory.port}",
        "PRICING_LISTEN": f"localhost:{tls_pricing.port}",
        **_env(client_tls(certs)),
    }
    refused = _run("holdfast_dev.seed", **env)
    assert refused.returncode == 1
    assert "UNAUTHENTICATED" in refused.stderr
    seeded = _run("holdfast_dev.seed", **env, CLIENT_TOKEN=ADMIN.secret)
    assert seeded.returncode == 0, seeded.stderr
    assert "seed: done" in seeded.stdout


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"TLS_CERT_FILE": "/no/such/cert.pem", "TLS_KEY_FILE": "/no/such/key.pem"}, "TLS_KEY_FILE"),
        ({"TLS_CERT_FILE": "{cert}"}, "TLS_KEY_FILE"),
        ({"AUTH_TOKENS": '[{"caller": "x", "sha256": "abc", "scopes": []}]'}, "AUTH_TOKENS"),
    ],
)
def test_a_service_with_unusable_security_settings_exits_naming_the_setting(database_url, certs, env, named):
    env = {key: value.replace("{cert}", str(certs.server_cert)) for key, value in env.items()}
    result = run_module(
        "pricing_svc", env={"DATABASE_URL": database_url, "PRICING_LISTEN": "127.0.0.1:0", **env}
    )
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert named in last, result.stderr
    assert "Traceback" not in result.stderr

"""`make bench` in miniature: every scenario measured without errors, the results written,
and every invariant intact after the load; and `--secure`, with security on every hop."""

from __future__ import annotations

import json

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from holdfast.inventory.v1 import inventory_pb2 as ipb
from holdfast.inventory.v1 import inventory_pb2_grpc

from bench.pgbench_baseline import MATCHES, find_pgbench
from bench.security import BENCH_CALLER, PLAIN, PRICING_CALLER, SECURE, StackSecurity
from bench.stack import Services
from bench.targets import SPREAD_PEERS
from bench.workloads import SCENARIOS
from holdfast_common.rpc.channels import bearer, open_channel
from holdfast_common.settings import SecuritySettings
from tests.support.processes import run_module

TINY = [
    "--concurrency=2",
    "--duration=0.5",
    "--warmup=0.2",
    "--pgbench-seconds=1",
    "--pgbench-clients=2",
    "--sweeper-holds=300",
    "--sweeper-reservers=2",
    "--sweeper-timeout=30",
    "--bulk-batches=3",
    "--bulk-reservers=2",
    "--skus=200",
]


def _bench(args: list[str], pg_server_url: str, redis_url: str, *, timeout: float) -> str:
    """`python -m bench ARGS` on the test servers; its output, once it has succeeded."""
    env = {"DATABASE_URL": pg_server_url, "REDIS_URL": redis_url}
    done = run_module("bench", *args, env=env, timeout=timeout)
    assert done.returncode == 0, f"python -m bench {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def bench_run(pg_server_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory):
    """One tiny run of `python -m bench`: its output, its JSON and the results folder."""
    results = tmp_path_factory.mktemp("bench-results")
    stdout = _bench([*TINY, f"--results={results}"], pg_server_url, redis_url, timeout=180)
    (json_path,) = results.glob("*.json")
    return stdout, json.loads(json_path.read_text()), results


def test_every_scenario_is_measured_without_errors(bench_run) -> None:
    _, data, _ = bench_run
    measured = {m["scenario"]: m for m in data["measurements"]}
    assert set(measured) == set(SCENARIOS)
    for name, m in measured.items():
        assert m["rps"] > 0 and m["ok"] > 0, name
        assert m["errors"] == {}, name
        assert m["p50_ms"] <= m["p99_ms"], name


def test_the_multi_location_scenarios_run_and_compare_with_spread(bench_run) -> None:
    """Holds through the bench's three-location channels, in the table with their ratio to spread."""
    stdout, data, _ = bench_run
    measured = [m["scenario"] for m in data["measurements"]]
    assert set(SPREAD_PEERS) <= set(measured) and "spread" in measured
    table_rows = [line for line in stdout.splitlines() if line.startswith("| multi-")]
    assert len(table_rows) == len(SPREAD_PEERS) and "x spread" in stdout
    assert all(row.rstrip(" |").rsplit("|", 1)[-1].strip() != "-" for row in table_rows)


@pytest.mark.skipif(find_pgbench() is None, reason="pgbench is not installed")
def test_the_pgbench_baselines_run_on_our_schema(bench_run) -> None:
    _, data, _ = bench_run
    assert [m["scenario"] for m in data["pgbench"]] == [f"pgbench {name}" for name in MATCHES]
    for m in data["pgbench"]:
        assert m["rps"] > 0 and m["errors"] == {}, m


def test_the_sweeper_clears_its_backlog_while_shoppers_reserve(bench_run) -> None:
    _, data, _ = bench_run
    sweep = data["sweeper"]
    assert sweep["left"] == 0 and sweep["seconds"] is not None
    assert sweep["reservers"]["rps"] > 0 and sweep["reservers"]["errors"] == {}
    assert set(data["peak_rss_mb"]) == {"inventory", "pricing", "sweeper worker", "sweeper scheduler"}
    assert all(mb > 0 for mb in data["peak_rss_mb"].values())


def test_bulk_set_syncs_while_shoppers_reserve(bench_run) -> None:
    stdout, data, _ = bench_run
    bulk = data["bulk_set"]
    # Every SKU of the tiny catalog, each row a change, none refused.
    assert bulk["rows"] == 200
    assert bulk["batches"]["ok"] == 3 and bulk["batches"]["errors"] == {}
    assert bulk["reservers"]["rps"] > 0 and bulk["reservers"]["errors"] == {}
    assert "| bulk-set " in stdout and "| spread during bulk-set " in stdout


def test_invariants_hold_after_the_run(bench_run) -> None:
    stdout, data, _ = bench_run
    assert data["audit"] == {"breaches": {}}
    assert "Audit: every invariant holds" in stdout


def test_the_table_is_printed_and_written(bench_run) -> None:
    stdout, data, results = bench_run
    latest = (results / "latest.md").read_text()
    for text in (stdout, latest):
        assert "| scenario " in text and "x echo" in text and "x pgbench" in text
    assert "\nTargets:\n" in stdout and "\n## Targets\n" in latest
    assert "- git commit:" in latest and "- postgresql:" in latest
    assert {t["outcome"] for t in data["targets"]} <= {"PASS", "FAIL", "n/a"}
    (json_path,) = results.glob("*.json")
    assert json_path.with_suffix(".md").read_text() == latest


SECURE_SCENARIOS = ["echo", "hot", "priced", "quote"]


@pytest.fixture(scope="module")
def secure_run(pg_server_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory):
    """One tiny `python -m bench --secure`: every hop that carries a call, the sweep's shoppers
    included (priced holds for inventory -> pricing, quote for the load -> pricing)."""
    results = tmp_path_factory.mktemp("bench-secure")
    tiny = [*TINY, "--pgbench-seconds=0", f"--scenarios={','.join(SECURE_SCENARIOS)}"]
    stdout = _bench(["--secure", *tiny, f"--results={results}"], pg_server_url, redis_url, timeout=120)
    (json_path,) = results.glob("*.json")
    (log_dir,) = results.glob("*-logs")
    return stdout, json.loads(json_path.read_text()), log_dir


def test_a_secure_run_succeeds_and_says_it_was_secure(secure_run) -> None:
    stdout, data, _ = secure_run
    assert [m["scenario"] for m in data["measurements"]] == SECURE_SCENARIOS
    for m in [*data["measurements"], data["sweeper"]["reservers"], data["bulk_set"]["batches"]]:
        assert m["ok"] > 0 and m["errors"] == {}, m
    assert data["sweeper"]["left"] == 0
    assert data["audit"] == {"breaches": {}}
    assert data["security"] == SECURE
    assert f"security: {SECURE}" in stdout


def test_a_secure_run_sends_its_tokens_on_every_hop(secure_run) -> None:
    """The services log each call's caller: named only when its token was checked."""
    _, _, log_dir = secure_run
    inventory, pricing = ((log_dir / name).read_text() for name in ("inventory.log", "pricing.log"))
    calls = {
        "CreateHold": inventory,  # hot, priced and the sweep's shoppers
        "BatchUpdateStock": inventory,  # bulk-set
        "QuoteCart": pricing,  # the quote scenario
        "BatchQuoteCarts": pricing,  # inventory_svc's quotes for priced holds
    }
    for method, log in calls.items():
        lines = [line for line in log.splitlines() if f'/{method}"' in line and '"call"' in line]
        callers = {json.loads(line)["caller"] for line in lines}
        expected = PRICING_CALLER if method == "BatchQuoteCarts" else BENCH_CALLER
        assert callers == {expected}, method


def test_a_plain_run_says_it_was_plain(bench_run) -> None:
    stdout, data, _ = bench_run
    assert data["security"] == PLAIN
    assert f"security: {PLAIN}" in stdout


@pytest.fixture(scope="module")
def secure_services(database_url: str, tmp_path_factory: pytest.TempPathFactory):
    """The services as `--secure` starts them, with the security they were given."""
    folder = tmp_path_factory.mktemp("secure-services")
    security = StackSecurity.create(folder / "certs")
    services = Services(security)
    try:
        services.start(database_url, folder)
        yield services, security
    finally:
        services.stop()


def _health(target: str, settings: SecuritySettings) -> grpc.StatusCode:
    with open_channel(target, settings) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            # types-grpcio-health-checking declares HealthStub without its methods.
            stub.Check(health_pb2.HealthCheckRequest(), timeout=10)  # type: ignore[attr-defined]
        except grpc.RpcError as error:
            return error.code()
        return grpc.StatusCode.OK


def test_secure_services_refuse_plaintext_and_clients_without_a_certificate(secure_services) -> None:
    services, security = secure_services
    for target in (services.targets.inventory, services.targets.pricing):
        assert _health(target, SecuritySettings()) == grpc.StatusCode.UNAVAILABLE
        ca_only = SecuritySettings(tls_ca_file=str(security.certs.ca))
        assert _health(target, ca_only) == grpc.StatusCode.UNAVAILABLE
        assert _health(target, _bench_client(security)) == grpc.StatusCode.OK


def test_secure_services_want_a_token(secure_services) -> None:
    services, security = secure_services
    settings = _bench_client(security)
    with open_channel(services.targets.inventory, settings) as channel:
        stub = inventory_pb2_grpc.InventoryServiceStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.ListCategories(ipb.ListCategoriesRequest(), timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        stub.ListCategories(ipb.ListCategoriesRequest(), timeout=10, metadata=bearer(settings.client_token))


def _bench_client(security: StackSecurity) -> SecuritySettings:
    """The client settings a --secure load generator gets."""
    env = security.load_env()
    return SecuritySettings(
        tls_ca_file=env["TLS_CA_FILE"],
        tls_client_cert_file=env["TLS_CLIENT_CERT_FILE"],
        tls_client_key_file=env["TLS_CLIENT_KEY_FILE"],
        client_token=env["CLIENT_TOKEN"],
    )

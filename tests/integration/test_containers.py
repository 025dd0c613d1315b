"""docker-compose.yml and the Dockerfile agree with the code: no engine runs here, so these
read the files and check them against the settings, the modules and each other."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from holdfast_common.security.auth import parse_grants, token_digest
from holdfast_common.security.scopes import SCOPES
from holdfast_common.settings import SecuritySettings, variable_names
from holdfast_dev import certs as devcerts
from tests.support.paths import REPO_ROOT

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"

HOLDFAST = {"migrate", "certs", "inventory", "pricing", "sweeper-worker", "sweeper-scheduler"}
ONE_SHOT = {"migrate", "certs"}
SERVERS = {"postgres", "redis"}
COMPLETED = "service_completed_successfully"
HEALTHY = "service_healthy"
# What each service waits for before it starts.
DEPENDS_ON = {
    "migrate": {"postgres": HEALTHY},
    "inventory": {"migrate": COMPLETED, "certs": COMPLETED, "postgres": HEALTHY},
    "pricing": {"migrate": COMPLETED, "certs": COMPLETED, "postgres": HEALTHY},
    "sweeper-worker": {"migrate": COMPLETED, "postgres": HEALTHY, "redis": HEALTHY},
    "sweeper-scheduler": {"migrate": COMPLETED, "redis": HEALTHY},
}
HEALTHCHECKS = {
    "inventory": ["python", "-m", "inventory_svc.healthcheck"],
    "pricing": ["python", "-m", "pricing_svc.healthcheck"],
    "sweeper-worker": ["python", "-m", "sweeper", "healthcheck"],
    "sweeper-scheduler": ["python", "-m", "sweeper", "healthcheck"],
}

# The URL each service that queries the database connects with (the scheduler never does).
SERVICE_DATABASE_URLS = {
    "inventory": "INVENTORY_DATABASE_URL",
    "pricing": "PRICING_DATABASE_URL",
    "sweeper-worker": "SWEEPER_DATABASE_URL",
}


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    return yaml.safe_load(COMPOSE_FILE.read_text())["services"]


def port_of(address: str) -> int:
    return int(address.rpartition(":")[2])


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (word.upper(), rest.strip())
        for word, _, rest in (line.partition(" ") for line in lines if line and not line.startswith("#"))
    ]


def test_the_stack_has_the_servers_the_migrate_job_and_every_holdfast_process(services):
    assert set(services) == SERVERS | HOLDFAST


def test_every_holdfast_service_runs_the_one_image_built_from_the_dockerfile(services):
    images = set()
    for name in HOLDFAST:
        service = services[name]
        assert service["build"] == {"context": ".", "dockerfile": "Dockerfile"}, name
        images.add(service["image"])
    assert len(images) == 1, f"holdfast services name different images: {images}"


def test_every_command_runs_a_module_that_exists(services):
    for name in HOLDFAST:
        for command in (services[name]["command"], HEALTHCHECKS.get(name)):
            if command is None:
                continue
            assert command[:2] == ["python", "-m"], (name, command)
            assert importlib.util.find_spec(command[2]) is not None, (name, command)


def test_environment_names_are_settings_fields(services):
    fields = variable_names()
    for name in HOLDFAST:
        unknown = {key for key in services[name]["environment"] if key.upper() not in fields}
        assert not unknown, f"{name} sets variables no setting reads: {sorted(unknown)}"


def test_published_ports_are_the_ports_the_services_listen_on(services):
    for name, variable, metrics in (
        ("inventory", "INVENTORY_LISTEN", "INVENTORY_METRICS_PORT"),
        ("pricing", "PRICING_LISTEN", "PRICING_METRICS_PORT"),
    ):
        env = services[name]["environment"]
        listen = env[variable]
        # Inside a container the service must listen beyond loopback to be reachable.
        assert listen.startswith("0.0.0.0:"), (name, listen)
        container_ports = [int(str(mapping).rpartition(":")[2]) for mapping in services[name]["ports"]]
        assert container_ports == [port_of(listen), int(env[metrics])], (name, services[name]["ports"])


def test_every_process_publishes_its_own_metrics_port(services):
    for name, variable in (
        ("inventory", "INVENTORY_METRICS_PORT"),
        ("pricing", "PRICING_METRICS_PORT"),
        ("sweeper-worker", "SWEEPER_WORKER_METRICS_PORT"),
        ("sweeper-scheduler", "SWEEPER_SCHEDULER_METRICS_PORT"),
    ):
        env = services[name]["environment"]
        assert env["METRICS_HOST"] == "0.0.0.0", name
        published = [int(str(mapping).rpartition(":")[2]) for mapping in services[name]["ports"]]
        assert int(env[variable]) in published, (name, published)


def test_urls_name_the_compose_servers_and_their_credentials(services):
    env = services["inventory"]["environment"]
    server = services["postgres"]["environment"]
    database = urlsplit(services["migrate"]["environment"]["DATABASE_URL"])
    assert (database.hostname, database.port) == ("postgres", 5432)
    assert (database.username, database.password) == (server["POSTGRES_USER"], server["POSTGRES_PASSWORD"])
    assert database.path == f"/{server['POSTGRES_DB']}"
    assert urlsplit(env["REDIS_URL"]).hostname == "redis"
    pricing_host, _, pricing_port = env["PRICING_ADDRESS"].rpartition(":")
    assert pricing_host == "pricing"
    assert int(pricing_port) == port_of(services["pricing"]["environment"]["PRICING_LISTEN"])


def test_each_service_connects_as_its_own_role_and_only_migrate_as_the_owner(services):
    migrate = services["migrate"]["environment"]
    owner = urlsplit(migrate["DATABASE_URL"])
    roles = set()
    for name in HOLDFAST - {"migrate"}:
        env = services[name]["environment"]
        assert "DATABASE_URL" not in env, f"{name} has the owner's credentials"
        own = {key for key in env if key.endswith("_DATABASE_URL")}
        assert own == ({SERVICE_DATABASE_URLS[name]} if name in SERVICE_DATABASE_URLS else set()), name
        for key in own:
            url = urlsplit(env[key])
            assert (url.hostname, url.port, url.path) == (owner.hostname, owner.port, owner.path), name
            assert url.username != owner.username, name
            # The migrate job creates and grants the role from the very same URL.
            assert migrate[key] == env[key], name
            roles.add(url.username)
    assert len(roles) == len(SERVICE_DATABASE_URLS)


def test_every_long_running_service_has_its_healthcheck(services):
    for name, service in services.items():
        if name in ONE_SHOT:
            continue
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    for name, command in HEALTHCHECKS.items():
        assert services[name]["healthcheck"]["test"] == ["CMD", *command], name


def test_services_wait_for_migrate_and_for_healthy_servers(services):
    for name, expected in DEPENDS_ON.items():
        conditions = {dep: spec["condition"] for dep, spec in services[name]["depends_on"].items()}
        assert conditions == expected, name
    # service_healthy needs a healthcheck on the other side.
    for expected in DEPENDS_ON.values():
        for dep, condition in expected.items():
            if condition == HEALTHY:
                assert "healthcheck" in services[dep], dep


def test_one_shot_jobs_run_once(services):
    for name in ONE_SHOT:
        assert services[name]["restart"] == "no", name
        assert "healthcheck" not in services[name], name


def _mounts(service: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Container path -> (volume, mode) of a service's volumes."""
    mounts = {}
    for spec in service.get("volumes", []):
        volume, target, *mode = str(spec).split(":")
        mounts[target] = (volume, mode[0] if mode else "rw")
    return mounts


def test_the_services_serve_mutual_tls_with_the_certificates_the_certs_job_makes(services):
    command = services["certs"]["command"]
    [written] = [p for p in command if p.startswith("/")]
    volume, _ = _mounts(services["certs"])[written]
    for name in ("inventory", "pricing"):
        env = services[name]["environment"]
        # Every certificate setting is on: TLS, a client CA (mTLS), and outbound mTLS.
        files = {key: value for key, value in env.items() if key.startswith("TLS_") and key.endswith("_FILE")}
        assert set(files) == {key.upper() for key in SecuritySettings.model_fields if key.startswith("tls_")}
        for key, path in files.items():
            directory, _, file = path.rpartition("/")
            assert file in devcerts.FILES, (name, key, path)
            assert _mounts(services[name]).get(directory) == (volume, "ro"), (name, key)


def _default(value: str) -> str:
    """The value of a "${NAME:-default}" compose interpolation when NAME is unset."""
    match = re.fullmatch(r"\$\{\w+:-(.*)\}", value)
    return match.group(1) if match else value


def test_the_compose_tokens_let_inventory_quote_and_the_documented_dev_token_do_everything(services):
    security_doc = (REPO_ROOT / "docs" / "operations.md").read_text()
    for name in ("inventory", "pricing"):
        env = services[name]["environment"]
        grants = {grant.digest.hex(): grant for grant in parse_grants(env["AUTH_TOKENS"], "AUTH_TOKENS")}
        pricing_token = grants[token_digest(_default(env["PRICING_TOKEN"]))]
        assert pricing_token.caller == "inventory_svc"
        assert pricing_token.scopes == {"pricing:read"}
        # docs/operations.md tells grpcurl users this one; it must open every method.
        assert "holdfast-dev-admin-token" in security_doc
        assert grants[token_digest("holdfast-dev-admin-token")].scopes == SCOPES
        # The healthchecks send no token.
        assert env["AUTH_OPEN_HEALTH"] == "true"


def test_dockerfile_builds_on_python_slim_and_ends_as_a_non_root_user():
    instructions = dockerfile_instructions()
    stages = [args for word, args in instructions if word == "FROM"]
    assert stages and all(stage.split()[0] == "python:3.11-slim" for stage in stages), stages
    final = instructions[max(i for i, (word, _) in enumerate(instructions) if word == "FROM") :]
    users = [args for word, args in final if word == "USER"]
    assert users, "the final stage sets no USER"
    assert users[-1].split(":")[0] not in ("root", "0"), users[-1]
    assert [word for word, _ in instructions][-2:] == ["USER", "CMD"]


def test_dockerfile_generates_the_stubs_and_leaves_out_the_dev_extras():
    runs = " ".join(args for word, args in dockerfile_instructions() if word == "RUN")
    assert "make protos" in runs
    assert "[dev]" not in runs


def test_dockerignore_keeps_local_state_out_of_the_build_context():
    ignored = set((REPO_ROOT / ".dockerignore").read_text().split())
    assert {".venv", ".data", ".git"} <= ignored
    assert "bench" in ignored or "bench/results" in ignored


def _compose_cli() -> list[str] | None:
    """`docker compose` (the plugin), else Debian's `docker-compose` v1, else None."""
    if shutil.which("docker") is not None:
        version = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if version.returncode == 0:
            return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") is not None else None


def test_docker_compose_config_accepts_the_file():
    compose = _compose_cli()
    if compose is None:
        pytest.skip("neither the docker compose plugin nor docker-compose is installed")
    result = subprocess.run(
        [*compose, "-f", str(COMPOSE_FILE), "config", "--quiet"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr

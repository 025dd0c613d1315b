"""`make run` / `make migrate` / `make audit`: infrastructure up, schema applied, processes supervised.

python -m holdfast_dev.stack run [--only NAME]...
python -m holdfast_dev.stack migrate
python -m holdfast_dev.stack exec -- COMMAND...
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

from holdfast_common.settings import DatabaseSettings
from holdfast_dev.infra import Infra, infrastructure
from holdfast_ops.migrate import apply_migrations
from holdfast_ops.roles import RoleConfigError, update_roles

PROCESSES = {
    "inventory": [sys.executable, "-m", "inventory_svc"],
    "pricing": [sys.executable, "-m", "pricing_svc"],
    "sweeper-worker": [sys.executable, "-m", "sweeper", "worker"],
    "sweeper-scheduler": [sys.executable, "-m", "sweeper", "scheduler"],
}


def _env(infra: Infra) -> dict[str, str]:
    env = dict(os.environ, DATABASE_URL=infra.database_url)
    if infra.redis_url:
        env["REDIS_URL"] = infra.redis_url
    return env


def _announce(infra: Infra) -> None:
    origin = "embedded" if "postgres" in infra.embedded else "given"
    print(f"holdfast: DATABASE_URL={infra.database_url} ({origin})", flush=True)
    if infra.redis_url:
        origin = "embedded" if "redis" in infra.embedded else "given"
        print(f"holdfast: REDIS_URL={infra.redis_url} ({origin})", flush=True)


def _supervise(names: list[str], env: dict[str, str]) -> int:
    """Runs the processes until one exits or we are interrupted; then stops them all."""
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    children = {name: subprocess.Popen(PROCESSES[name], env=env, start_new_session=True) for name in names}
    exit_code = 0
    while not stopping:
        for name, child in children.items():
            if child.poll() is not None:
                print(f"holdfast: {name} exited with {child.returncode}; stopping", flush=True)
                exit_code = child.returncode or 1
                stopping = True
        time.sleep(0.2)
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children.values():
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
    return exit_code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devstack")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start the services on the given or embedded servers")
    run.add_argument("--only", choices=sorted(PROCESSES), action="append")
    sub.add_parser("migrate", help="apply pending migrations")
    run_cmd = sub.add_parser("exec", help="run a command with DATABASE_URL/REDIS_URL set")
    run_cmd.add_argument("argv", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)

    with infrastructure(need_redis=args.command == "run") as infra:
        _announce(infra)
        applied = apply_migrations(infra.database_url)
        print(f"holdfast: schema up to date ({applied} migration(s) applied)", flush=True)
        # With service URLs of their own (docs/operations.md, "Database roles"), their roles
        # follow the schema.
        try:
            roles = update_roles(infra.database_url, DatabaseSettings())
        except RoleConfigError as exc:
            print(f"holdfast: {exc}", file=sys.stderr)
            return 2
        for role in roles:
            print(f"holdfast: {role.service} connects as {role.name}", flush=True)
        if args.command == "migrate":
            return 0
        if args.command == "exec":
            command = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
            return subprocess.call(command, env=_env(infra))
        return _supervise(args.only or list(PROCESSES), _env(infra))


if __name__ == "__main__":
    raise SystemExit(main())

"""What a result depends on besides the code: the machine, the versions, the commit."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from tests.support.paths import REPO_ROOT


def _first(path: str, key: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else ""


def _commit() -> str:
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    # Others' work in progress changes what is measured: say so.
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return commit + (" + uncommitted changes" if dirty else "")


def machine_facts(database_url: str, pgbench: str | None) -> dict[str, str]:
    with psycopg.connect(database_url) as conn:
        postgres = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
    pgbench_version = ""
    if pgbench:
        done = subprocess.run([pgbench, "--version"], capture_output=True, text=True)
        pgbench_version = done.stdout.strip()
    memory_kb = _first("/proc/meminfo", "MemTotal").split()[0]
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git commit": _commit(),
        "cpu": _first("/proc/cpuinfo", "model name"),
        "cores": str(os.cpu_count()),
        "ram": f"{int(memory_kb) / 1024**2:.1f} GiB" if memory_kb.isdigit() else "unknown",
        "python": platform.python_version(),
        "postgresql": postgres,
        "pgbench": pgbench_version or "not found",
    }

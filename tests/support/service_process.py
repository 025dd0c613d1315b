"""`python -m inventory_svc` / `python -m pricing_svc` as real processes on a free port,
their output in a log file (a pipe nobody reads would fill up and stall a busy service)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.support.paths import REPO_ROOT
from tests.support.polling import wait_until
from tests.support.ports import free_port

_LISTEN_VARIABLE = {"inventory_svc": "INVENTORY_LISTEN", "pricing_svc": "PRICING_LISTEN"}


class ServiceProcess:
    """One service process; `target` is its host:port."""

    def __init__(self, module: str, log_path: Path, target: str | None = None, **env: str) -> None:
        self.module = module
        self.log_path = log_path
        self.target = target or f"127.0.0.1:{free_port()}"
        environment = dict(os.environ)
        environment.update(env)
        environment.update({_LISTEN_VARIABLE[module]: self.target, "PYTHONUNBUFFERED": "1"})
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", module],
                cwd=REPO_ROOT,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(self._listening, 30, f"{module} to listen")

    def _listening(self) -> bool:
        assert self.alive, f"{self.module} exited early:\n{self.log()}"
        return f"{self.module} listening on port" in self.log()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM, as an orchestrator sends it; returns the exit code."""
        if self.alive:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        if self.alive:
            self.process.kill()
        self.process.wait(timeout=30)


def run_audit(database_url: str) -> subprocess.CompletedProcess[str]:
    """`python -m inventory_svc audit` (what `make audit` runs) on a database."""
    return subprocess.run(
        [sys.executable, "-m", "inventory_svc", "audit"],
        cwd=REPO_ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

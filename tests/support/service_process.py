"""`python -m inventory_svc` / `python -m pricing_svc` as real processes on a free port."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tests.support.ports import free_port
from tests.support.processes import ModuleProcess, run_module

_LISTEN_VARIABLE = {"inventory_svc": "INVENTORY_LISTEN", "pricing_svc": "PRICING_LISTEN"}


class ServiceProcess(ModuleProcess):
    """One service process, started and listening; `target` is its host:port."""

    def __init__(self, module: str, log_path: Path, target: str | None = None, **env: str) -> None:
        self.target = target or f"127.0.0.1:{free_port()}"
        environment = {**os.environ, **env, _LISTEN_VARIABLE[module]: self.target}
        super().__init__(module, [module], environment, log_path)
        self.wait_for(re.escape(f"{module} listening on port"), 30)


def run_audit(database_url: str) -> subprocess.CompletedProcess[str]:
    """`python -m inventory_svc audit` (what `make audit` runs) on a database."""
    return run_module("inventory_svc", "audit", env={"DATABASE_URL": database_url})

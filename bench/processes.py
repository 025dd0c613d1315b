"""The processes a bench run starts: the shared runner's children, each in its own session,
and how much memory they peaked at."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.support.processes import ModuleProcess, session_members


class Child(ModuleProcess):
    """`python -m MODULE ARGS...` in a session of its own, stdout and stderr in `log_path`:
    a worker's forked children are found (measured, stopped) by session id."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str], log_path: Path) -> None:
        super().__init__(name, argv, env, log_path, own_session=True)

    def peak_rss_mb(self) -> float:
        """The largest VmHWM (peak resident set) among the processes of the child's session."""
        peaks = [_vm_hwm_kb(pid) for pid in session_members(self.pid)]
        return max((kb for kb in peaks if kb is not None), default=0) / 1024


def _vm_hwm_kb(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) if found else None

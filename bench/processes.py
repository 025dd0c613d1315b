"""The processes a bench run starts: each in its own session with its output in a log
file, waited for until it says it is ready, measured, and stopped with its children."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.paths import REPO_ROOT


class ProcessFailed(RuntimeError):
    """A child exited, or never became ready; the message ends with its log's tail."""


class Child:
    """`python -m MODULE ARGS...` in a session of its own, stdout and stderr in `log_path`."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        with log_path.open("wb") as log:
            # Its own session: a worker's forked children are found (and stopped) by
            # session id, and a terminal's Ctrl-C reaches only us, so we stop it in order.
            self.process = subprocess.Popen(
                [sys.executable, "-m", *argv],
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def ensure_running(self) -> None:
        if self.process.poll() is not None:
            raise ProcessFailed(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        """Waits until the log matches `pattern` (the child's way of saying it is ready)."""
        compiled = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            found = compiled.search(self.log_path.read_text(errors="replace"))
            if found:
                return found
            self.ensure_running()
            if time.monotonic() > deadline:
                raise ProcessFailed(f"{self.name} not ready after {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.05)

    def peak_rss_mb(self) -> float:
        """The largest VmHWM (peak resident set) among the processes of the child's session."""
        peaks = [_vm_hwm_kb(pid) for pid in _session_members(self.pid)]
        return max((kb for kb in peaks if kb is not None), default=0) / 1024

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM to the whole session, as a supervisor would send; SIGKILL if it lingers."""
        if self.process.poll() is None:
            _signal_group(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.pid, signal.SIGKILL)
                self.process.wait()
        if _session_members(self.pid):  # a worker's children may outlive their parent
            _signal_group(self.pid, signal.SIGKILL)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def _session_members(session: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command name: state, ppid, pgrp, session, ...
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == session:
            members.append(int(entry.name))
    return members


def _vm_hwm_kb(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) if found else None

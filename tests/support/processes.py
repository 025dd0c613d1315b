"""`python -m MODULE ...` as a real process: its output in a log file (a pipe nobody reads
would fill up and stall a busy child), waited for until its log says it is ready, stopped
with SIGTERM as an orchestrator would, killed with its whole process group when it must.

One runner for the tests' services and sweepers and the bench's children."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.support.paths import REPO_ROOT


class ProcessFailed(RuntimeError):
    """A child exited, or never became ready; the message ends with its log's tail."""


class ModuleProcess:
    """`python -m ARGV...` with stdout and stderr in `log_path`; `env` is its whole environment.

    With `own_session` it leads a session (and process group) of its own: its forked children
    are found and killed with it, and a terminal's Ctrl-C reaches only us, so we stop it in order.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        log_path: Path,
        *,
        own_session: bool = False,
    ) -> None:
        self.name = name
        self.log_path = log_path
        self.own_session = own_session
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", *argv],
                cwd=REPO_ROOT,
                env={**env, "PYTHONUNBUFFERED": "1"},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=own_session,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def ensure_running(self) -> None:
        if not self.alive:
            raise ProcessFailed(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        """Waits until the log matches `pattern` (the child's way of saying it is ready);
        fails at once if the child exits first, with its log's tail, or after `timeout` s."""
        compiled = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            found = compiled.search(self.log())
            if found:
                return found
            self.ensure_running()
            if time.monotonic() > deadline:
                raise ProcessFailed(f"{self.name} not ready after {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.05)

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM to the child alone, as an orchestrator sends it; returns the exit code.
        A child that does not exit within `timeout` is killed and TimeoutExpired raised."""
        if self.alive:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def stop_session(self, timeout: float = 30) -> None:
        """SIGTERM to the whole session (own_session only), as a supervisor would send it;
        SIGKILL if it lingers, and to any of its children that outlive it."""
        assert self.own_session, f"{self.name} has no session of its own to stop"
        if self.alive:
            _signal_group(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.pid, signal.SIGKILL)
                self.process.wait()
        if session_members(self.pid):
            _signal_group(self.pid, signal.SIGKILL)

    def kill(self) -> None:
        """SIGKILL, to the whole process group when the child has one: a worker's children
        die with it, mid-batch."""
        if self.own_session:
            _signal_group(self.pid, signal.SIGKILL)
        elif self.alive:
            self.process.kill()
        self.process.wait(timeout=30)


def _signal_group(pgid: int, signum: int) -> None:
    """Sends `signum` to a process group that may already be gone."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def session_members(session: int) -> list[int]:
    """The pids of the processes in a session (from /proc)."""
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


def run_module(
    *argv: str, env: Mapping[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`python -m ARGV...` to its end, its output captured; `env` over this process's environment."""
    return subprocess.run(
        [sys.executable, "-m", *argv],
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )

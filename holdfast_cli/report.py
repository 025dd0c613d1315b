"""The per-row error report of an import: a CSV of the rows that were not imported, by line."""

from __future__ import annotations

import csv
from pathlib import Path

from holdfast_cli.catalog_files import BadRow

REPORT_COLUMNS = ("line", "kind", "key", "reason", "message")


def default_report_path(source: Path) -> Path:
    """`catalog.csv` -> `catalog.csv.errors.csv`, beside the file imported."""
    return source.with_name(source.name + ".errors.csv")


class ErrorReport:
    """Failed rows, collected as they come (refused while reading, or by the server) and written
    in line order, only when there is one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.failures: list[BadRow] = []

    def add(self, failure: BadRow) -> None:
        self.failures.append(failure)

    def write(self) -> bool:
        """Writes the report when some row failed; True when it did. Otherwise a report an earlier
        run left at the path is removed: the report always describes the last run."""
        if not self.failures:
            self.path.unlink(missing_ok=True)
            return False
        with self.path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(REPORT_COLUMNS)
            for row in sorted(self.failures, key=lambda failure: failure.line):
                writer.writerow([row.line, row.kind, row.key, row.reason, row.message])
        return True

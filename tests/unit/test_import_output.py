"""What `holdfast import` shows and leaves behind: plain progress lines off a terminal (on a clock
the test moves), and the error report in line order."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from holdfast_cli.catalog_files import BadRow
from holdfast_cli.progress import PlainProgress
from holdfast_cli.report import REPORT_COLUMNS, ErrorReport, default_report_path


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_plain_progress_prints_a_line_per_interval_and_the_last_state() -> None:
    out, clock = io.StringIO(), Clock()
    progress = PlainProgress(out, total=100_000, every=2.0, clock=clock)
    clock.now += 1.0
    progress.update(8_000, 0)
    assert out.getvalue() == ""  # within the first interval
    clock.now += 1.0
    progress.update(16_200, 3)
    clock.now += 0.5
    progress.update(20_000, 3)
    clock.now += 1.5
    progress.update(32_000, 4)
    progress.close()
    assert out.getvalue().splitlines() == [
        "imported 16,200/100,000 rows (8,100 rows/s), 3 failed",
        "imported 32,000/100,000 rows (8,000 rows/s), 4 failed",
    ]


def test_plain_progress_always_shows_the_end() -> None:
    out, clock = io.StringIO(), Clock()
    progress = PlainProgress(out, total=35, every=2.0, clock=clock)
    clock.now += 0.5
    progress.update(35, 1)
    progress.close()
    assert out.getvalue() == "imported 35/35 rows (70 rows/s), 1 failed\n"


def test_the_report_lists_failed_rows_by_line_and_is_written_only_when_one_failed(tmp_path: Path) -> None:
    source = tmp_path / "catalog.csv"
    path = default_report_path(source)
    assert path == tmp_path / "catalog.csv.errors.csv"
    report = ErrorReport(path)
    assert report.write() is False and not path.exists()
    report.add(BadRow(40, "stock", "MUG-1@wh", "UNKNOWN_LOCATION", 'location "wh" does not exist'))
    report.add(BadRow(7, "variant", "MUG 1", "BAD_CODE", "sku 'MUG 1' must be ..."))
    assert report.write() is True
    with path.open(newline="") as written:
        rows = list(csv.reader(written))
    assert rows == [
        list(REPORT_COLUMNS),
        ["7", "variant", "MUG 1", "BAD_CODE", "sku 'MUG 1' must be ..."],
        ["40", "stock", "MUG-1@wh", "UNKNOWN_LOCATION", 'location "wh" does not exist'],
    ]
    # The file fixed, a clean run takes the old report away.
    assert ErrorReport(path).write() is False and not path.exists()

"""How far an import has got: a rich progress bar (rows/s, ETA) on a terminal, plain periodic
lines anywhere else (a log, a pipe, CI), which a bar's redraws would fill with noise."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress
from rich.text import Text


class Progress(Protocol):
    def update(self, done: int, failed: int) -> None:
        """`done` rows dealt with (answered, or refused before sending); `failed` of them failed."""

    def close(self) -> None:
        """The last state is shown; nothing is drawn after this."""


def plain_line(done: int, total: int, failed: int, seconds: float) -> str:
    rate = done / seconds if seconds > 0 else 0.0
    return f"imported {done:,}/{total:,} rows ({rate:,.0f} rows/s), {failed:,} failed"


class PlainProgress:
    """A line every `every` seconds while rows come in, and one at the end."""

    def __init__(
        self, out: TextIO, total: int, every: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._out, self._total, self._every, self._clock = out, total, every, clock
        self._start = self._last = clock()
        self._done = self._failed = 0
        self._shown: tuple[int, int] | None = None

    def update(self, done: int, failed: int) -> None:
        self._done, self._failed = done, failed
        if self._clock() - self._last >= self._every:
            self._show()

    def _show(self) -> None:
        self._last = self._clock()
        self._shown = (self._done, self._failed)
        print(
            plain_line(self._done, self._total, self._failed, self._last - self._start),
            file=self._out,
            flush=True,
        )

    def close(self) -> None:
        if self._shown != (self._done, self._failed):
            self._show()


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:,.0f} rows/s")


class BarProgress:
    """rich's bar: rows done of the file's rows, rows/s, failures, elapsed and ETA."""

    def __init__(self, out: TextIO, total: int) -> None:
        self._bar = RichProgress(
            TextColumn("importing"),
            BarColumn(),
            MofNCompleteColumn(),
            _RateColumn(),
            TextColumn("{task.fields[failed]:,} failed"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(file=out),
        )
        self._task = self._bar.add_task("import", total=total, failed=0)
        self._bar.start()

    def update(self, done: int, failed: int) -> None:
        self._bar.update(self._task, completed=done, failed=failed)

    def close(self) -> None:
        self._bar.stop()


def progress_for(out: TextIO, total: int, every: float) -> Progress:
    """A bar when `out` is a terminal, plain lines every `every` seconds otherwise."""
    if out.isatty():
        return BarProgress(out, total)
    return PlainProgress(out, total, every)

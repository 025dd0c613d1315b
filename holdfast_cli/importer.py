"""`holdfast import FILE`: the file's rows streamed to ImportCatalog in chunks, each row's answer
mapped back to its line; progress, an error report, and a clean stop on Ctrl-C.

ImportCatalog is idempotent by natural keys, so an import stopped half-way is finished by running
the same command again: the rows already imported come back UNCHANGED, none twice.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import grpc
from holdfast.inventory.v1 import inventory_pb2 as pb

from holdfast_cli.catalog_files import FORMATS, BadRow, FileRow, NotACatalogFile, format_of, read_rows, survey
from holdfast_cli.connection import Inventory, refusal_of_call, refusal_of_status
from holdfast_cli.progress import progress_for
from holdfast_cli.report import ErrorReport, default_report_path

# ImportCatalogRequest takes 1 to 1,000 rows.
MAX_CHUNK = 1000
# Chunks sent and not yet answered. Enough to keep the service busy (one being written, the next
# ones queued), few enough that Ctrl-C stops the import within a few chunks: left to itself, gRPC
# would buffer a whole file ahead of the service, and nothing would be left to stop.
IN_FLIGHT_CHUNKS = 4
_ROW_OVERHEAD_BYTES = 6
EXIT_INTERRUPTED = 130
_OUTCOMES = {
    pb.IMPORT_OUTCOME_CREATED: "created",
    pb.IMPORT_OUTCOME_UPDATED: "updated",
    pb.IMPORT_OUTCOME_UNCHANGED: "unchanged",
    pb.IMPORT_OUTCOME_FAILED: "failed",
}


def _chunk_size(text: str) -> int:
    size = int(text)
    if not 1 <= size <= MAX_CHUNK:
        raise argparse.ArgumentTypeError(f"must be 1 to {MAX_CHUNK}")
    return size


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "import",
        help="load a catalog file (CSV or JSON Lines)",
        description="Imports locations, categories, products, variants and stock from a catalog file "
        "(docs/operators.md). Rows that cannot be imported are listed, by line, in the error report; "
        "the rest are imported. Exit 0: every row imported; 1: some row failed; 2: not a catalog file "
        "(nothing sent); 130: interrupted (run it again to import the rest).",
    )
    parser.add_argument("file", type=Path, metavar="FILE")
    parser.add_argument("--format", choices=FORMATS, help="default: from the extension (.csv, .jsonl)")
    parser.add_argument(
        "--report",
        type=Path,
        metavar="PATH",
        help="error report to write when a row fails (default: FILE.errors.csv)",
    )
    parser.add_argument(
        "--chunk-size",
        type=_chunk_size,
        default=MAX_CHUNK,
        metavar="N",
        help=f"rows per message (1-{MAX_CHUNK})",
    )
    parser.add_argument(
        "--progress-every",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="off a terminal: seconds between progress lines (default 2)",
    )
    parser.set_defaults(run=run)


class _Outgoing:
    """The request side of the stream: the file read in chunks, each sent row remembered by its
    index in the stream so its answer can name the line, at most IN_FLIGHT_CHUNKS chunks ahead of
    the answers. A chunk also stays within `max_bytes` (long descriptions make big rows). Runs on
    gRPC's sending thread."""

    def __init__(
        self, rows: Iterator[FileRow | BadRow], chunk_size: int, max_bytes: int, stop: threading.Event
    ) -> None:
        self._rows, self._chunk_size, self._max_bytes, self._stop = rows, chunk_size, max_bytes, stop
        self.sent: dict[int, FileRow] = {}
        self.refused: list[BadRow] = []
        self.next_index = 0
        self._window = threading.Semaphore(IN_FLIGHT_CHUNKS)
        # The stream index after each unanswered chunk's last row, oldest first.
        self._chunk_ends: deque[int] = deque()

    def answered(self, rows: int) -> None:
        """`rows` rows of the stream have their answers: the chunks they complete free their places."""
        while self._chunk_ends and rows >= self._chunk_ends[0]:
            self._chunk_ends.popleft()
            self._window.release()

    def requests(self) -> Iterator[pb.ImportCatalogRequest]:
        chunk: list[FileRow] = []
        chunk_bytes = 0
        for row in self._rows:
            if self._stop.is_set():
                return  # the partial chunk is not sent: a re-run sends it
            if isinstance(row, BadRow):
                self.refused.append(row)
                continue
            # The row's bytes and its field's tag and length in the request.
            size = row.row.ByteSize() + _ROW_OVERHEAD_BYTES
            if chunk and chunk_bytes + size > self._max_bytes:
                if not self._wait_for_room():
                    return
                yield self._send(chunk)
                chunk, chunk_bytes = [], 0
            chunk.append(row)
            chunk_bytes += size
            if len(chunk) == self._chunk_size:
                if not self._wait_for_room():
                    return
                yield self._send(chunk)
                chunk, chunk_bytes = [], 0
        if chunk and self._wait_for_room():
            yield self._send(chunk)

    def _wait_for_room(self) -> bool:
        """Waits until fewer than IN_FLIGHT_CHUNKS chunks are unanswered; False on Ctrl-C."""
        while not self._window.acquire(timeout=0.1):
            if self._stop.is_set():
                return False
        if self._stop.is_set():
            self._window.release()
            return False
        return True

    def _send(self, chunk: list[FileRow]) -> pb.ImportCatalogRequest:
        # Remembered before the chunk leaves, so its answers always find their lines.
        for row in chunk:
            self.sent[self.next_index] = row
            self.next_index += 1
        self._chunk_ends.append(self.next_index)
        return pb.ImportCatalogRequest(rows=[row.row for row in chunk])


class _Interrupt:
    """First Ctrl-C: send no more, let the chunks in flight be answered. Second: cancel the call."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.call: grpc.Future | None = None
        self._previous: Any = None

    def __enter__(self) -> _Interrupt:
        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.stop.is_set() and self.call is not None:
            self.call.cancel()
            return
        self.stop.set()
        print(
            "\nstopping: no more rows are sent; waiting for the answers in flight",
            file=sys.stderr,
            flush=True,
        )


def run(args: argparse.Namespace, connect: Callable[[], Inventory]) -> int:
    path: Path = args.file
    try:
        fmt = format_of(path, args.format)
        total = survey(path, fmt)
    except (ValueError, NotACatalogFile) as error:
        print(f"holdfast import: {path}: {error}; nothing was imported", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"holdfast import: {error}", file=sys.stderr)
        return 2
    inventory = connect()
    report = ErrorReport(args.report or default_report_path(path))
    counts: Counter[str] = Counter()
    started = time.monotonic()
    call_failed = ""
    with _Interrupt() as interrupt:
        rows = read_rows(path, fmt, inventory.store_currency)
        # Half the message limit: the service's own margin for its answers, kept for ours too.
        outgoing = _Outgoing(rows, args.chunk_size, inventory.max_message_bytes // 2, interrupt.stop)
        progress = progress_for(sys.stdout, total, args.progress_every)
        reported_refusals = 0
        try:
            call = inventory.stub.ImportCatalog(outgoing.requests(), metadata=inventory.metadata)
            interrupt.call = call
            for response in call:
                for result in response.results:
                    row = outgoing.sent.pop(result.index)
                    outcome = _OUTCOMES.get(result.outcome, "failed")
                    counts[outcome] += 1
                    if outcome == "failed":
                        refusal = refusal_of_status(result.status)
                        report.add(
                            BadRow(
                                row.line, row.kind, row.key, refusal.reason or refusal.code, refusal.message
                            )
                        )
                outgoing.answered(counts.total())
                for bad in outgoing.refused[reported_refusals:]:
                    report.add(bad)
                reported_refusals = len(outgoing.refused)
                progress.update(counts.total() + reported_refusals, counts["failed"] + reported_refusals)
        except grpc.RpcError as error:
            refusal = refusal_of_call(error)
            if not (interrupt.stop.is_set() and refusal.code == "CANCELLED"):
                call_failed = refusal.line()
        for bad in outgoing.refused[reported_refusals:]:
            report.add(bad)
        counts["failed"] += len(outgoing.refused)
        progress.update(counts.total(), counts["failed"])
        progress.close()
    seconds = time.monotonic() - started
    wrote_report = report.write()
    done = counts.total()
    rate = done / seconds if seconds > 0 else 0.0
    summary = f"{path}: {done:,} of {total:,} rows in {seconds:.1f} s ({rate:,.0f} rows/s): " + ", ".join(
        f"{counts[name]:,} {name}" for name in ("created", "updated", "unchanged", "failed")
    )
    if wrote_report:
        summary += f"; failed rows in {report.path}"
    print(summary, flush=True)
    inventory.close()
    if call_failed:
        print(f"holdfast import: the import stopped: {call_failed}", file=sys.stderr)
        return 1
    if interrupt.stop.is_set():
        print(
            f"holdfast import: interrupted after {done:,} of {total:,} rows; run the same command again "
            "to import the rest (rows already imported come back unchanged)",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    return 1 if counts["failed"] else 0

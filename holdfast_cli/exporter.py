"""`holdfast export`: ExportCatalog written as a catalog file, in the layout `holdfast import` reads."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import grpc
from holdfast.inventory.v1 import inventory_pb2 as pb

from holdfast_cli.catalog_files import FORMATS, RowWriter, format_of, row_kind
from holdfast_cli.connection import Inventory, refusal_of_call

# ExportCatalog sends at most 1,000 rows a message.
PAGE_SIZE = 1000


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write the catalog, locations and stock as a catalog file",
        description="Writes every location, category, product, variant and stock level as a catalog "
        "file (docs/operators.md), from one snapshot, parents before children: `holdfast import` of "
        "it into an empty database gives the same catalog, locations and stock.",
    )
    parser.add_argument("--format", choices=FORMATS, help="default: from --output's extension, else csv")
    parser.add_argument(
        "--output",
        "-o",
        type=Path,
        metavar="PATH",
        help="file to write (default: standard output); written whole or not at all",
    )
    parser.set_defaults(run=run)


def _export(inventory: Inventory, out: TextIO, fmt: str) -> Counter[str]:
    writer = RowWriter(out, fmt)
    kinds: Counter[str] = Counter()
    request = pb.ExportCatalogRequest(page_size=PAGE_SIZE)
    for response in inventory.stub.ExportCatalog(request, metadata=inventory.metadata):
        writer.write(response.rows)
        kinds.update(row_kind(row) for row in response.rows)
    return kinds


def run(args: argparse.Namespace, connect: Callable[[], Inventory]) -> int:
    output: Path | None = args.output
    try:
        fmt = format_of(output, args.format) if output else args.format or "csv"
    except ValueError as error:
        print(f"holdfast export: {error}", file=sys.stderr)
        return 2
    inventory = connect()
    try:
        if output is None:
            kinds = _export(inventory, sys.stdout, fmt)
            sys.stdout.flush()
        else:
            # Beside the target, renamed over it at the end: a failed export leaves no half file.
            handle, temporary = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".tmp")
            try:
                with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
                    kinds = _export(inventory, out, fmt)
                os.replace(temporary, output)
            finally:
                if os.path.exists(temporary):
                    os.unlink(temporary)
    except grpc.RpcError as error:
        print(f"holdfast export: {refusal_of_call(error).line()}", file=sys.stderr)
        return 1
    except ValueError as error:
        print(f"holdfast export: {error}", file=sys.stderr)
        return 1
    finally:
        inventory.close()
    parts = ", ".join(
        f"{kinds[kind]:,} {kind}" for kind in ("location", "category", "product", "variant", "stock")
    )
    print(f"exported {kinds.total():,} rows ({parts}) to {output or 'standard output'}", file=sys.stderr)
    return 0

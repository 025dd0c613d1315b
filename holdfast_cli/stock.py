"""`holdfast stock get|set|adjust|transfer`: one call each, the level(s) it leaves printed."""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Callable
from typing import Any

import grpc
from holdfast.inventory.v1 import inventory_pb2 as pb

from holdfast_cli.connection import CALL_TIMEOUT_SECONDS, Inventory, refusal_of_call

_REASONS = {"receive": pb.ADJUSTMENT_REASON_RECEIVE, "adjust": pb.ADJUSTMENT_REASON_ADJUST}
_HEADER = ("SKU", "LOCATION", "ON_HAND", "RESERVED", "AVAILABLE")


def add_parsers(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """The `stock` command and its four verbs; `common` carries --json."""
    stock = subparsers.add_parser(
        "stock", help="read and change stock levels", description="Read and change stock levels."
    )
    verbs = stock.add_subparsers(dest="verb", required=True, metavar="{get,set,adjust,transfer}")
    writes = argparse.ArgumentParser(add_help=False)
    writes.add_argument(
        "--request-id",
        help="idempotency key: a retry with the same one replays the first answer (default: a new UUID)",
    )
    writes.add_argument("--note", default="", help="free text kept in the ledger")

    get = verbs.add_parser(
        "get",
        parents=[common],
        help="levels per location and the channel's total",
        description="The level of each SKU at every location that keeps it, and the channel's total "
        "(what it can sell: the sum over its active locations).",
    )
    get.add_argument("skus", nargs="+", metavar="SKU")
    get.add_argument(
        "--channel", default="", help="channel code or id whose total to show (default: default)"
    )
    get.set_defaults(run=run, action=get_levels)

    set_ = verbs.add_parser(
        "set",
        parents=[common, writes],
        help="set on_hand at one location (optionally compare-and-set)",
        description="Sets on_hand of SKU at a location to QTY (BatchUpdateStock, one row). With "
        "--expect N the write happens only if on_hand is still N; otherwise it is refused, naming "
        "the current on_hand.",
    )
    set_.add_argument("sku", metavar="SKU")
    set_.add_argument("quantity", metavar="QTY", type=int)
    set_.add_argument("--location", default="", help="location code or id (default: default)")
    set_.add_argument("--expect", type=int, metavar="N", help="refuse unless on_hand is N now")
    set_.set_defaults(run=run, action=set_level)

    adjust = verbs.add_parser(
        "adjust",
        parents=[common, writes],
        help="change on_hand by a delta",
        description="Adds DELTA (negative to remove) to on_hand of SKU at a location (AdjustStock).",
    )
    adjust.add_argument("sku", metavar="SKU")
    adjust.add_argument("delta", metavar="DELTA", type=int)
    adjust.add_argument("--location", default="", help="location code or id (default: default)")
    adjust.add_argument(
        "--reason",
        choices=sorted(_REASONS),
        default="adjust",
        help="receive (goods in: DELTA > 0) or adjust (a correction, either sign; the default)",
    )
    adjust.set_defaults(run=run, action=adjust_level)

    transfer = verbs.add_parser(
        "transfer",
        parents=[common, writes],
        help="move on_hand between two locations",
        description="Moves QTY units of SKU from one location to another in one transaction "
        "(TransferStock); reserved units never move.",
    )
    transfer.add_argument("sku", metavar="SKU")
    transfer.add_argument("quantity", metavar="QTY", type=int)
    transfer.add_argument(
        "--from", dest="from_location", required=True, metavar="L", help="location to take from"
    )
    transfer.add_argument("--to", dest="to_location", required=True, metavar="L", help="location to put at")
    transfer.set_defaults(run=run, action=transfer_stock)


def run(args: argparse.Namespace, connect: Callable[[], Inventory]) -> int:
    """One stock call; a refusal goes to stderr (status, message, ErrorInfo reason) with exit 1."""
    inventory = connect()
    try:
        action: Callable[[argparse.Namespace, Inventory], int] = args.action
        return action(args, inventory)
    except grpc.RpcError as error:
        refusal = refusal_of_call(error)
        print(f"holdfast stock {args.verb}: {refusal.line()}", file=sys.stderr)
        for violation in refusal.violations:
            print(f"  {violation}", file=sys.stderr)
        return 1
    finally:
        inventory.close()


def _request_id(args: argparse.Namespace) -> str:
    return args.request_id or str(uuid.uuid4())


def level_dict(level: pb.StockLevel) -> dict[str, Any]:
    return {
        "sku": level.sku,
        "location": level.location,
        "on_hand": level.on_hand,
        "reserved": level.reserved,
        "available": level.available,
    }


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.ljust(w) if i < 2 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _row(level: pb.StockLevel, location: str) -> tuple[str, ...]:
    return (level.sku, location, str(level.on_hand), str(level.reserved), str(level.available))


def _print_levels(args: argparse.Namespace, payload: dict[str, Any], levels: list[pb.StockLevel]) -> None:
    if args.json:
        print(json.dumps(payload))
    else:
        print(_table([_HEADER, *(_row(level, level.location) for level in levels)]))


def get_levels(args: argparse.Namespace, inventory: Inventory) -> int:
    request = pb.BatchGetStockLevelsRequest(skus=args.skus, channel=args.channel)
    response = inventory.stub.BatchGetStockLevels(
        request, timeout=CALL_TIMEOUT_SECONDS, metadata=inventory.metadata
    )
    if args.json:
        print(
            json.dumps(
                {
                    "channel": args.channel or "default",
                    "totals": [level_dict(level) for level in response.levels],
                    "locations": [level_dict(level) for level in response.location_levels],
                }
            )
        )
        return 0
    # Each SKU's locations, then its channel total on a line of its own.
    total_label = f"total ({args.channel or 'default'})"
    rows: list[tuple[str, ...]] = [_HEADER]
    for total in response.levels:
        rows += [_row(level, level.location) for level in response.location_levels if level.sku == total.sku]
        rows.append(_row(total, total_label))
    print(_table(rows))
    return 0


def set_level(args: argparse.Namespace, inventory: Inventory) -> int:
    update = pb.StockUpdate(sku=args.sku, location=args.location, set_on_hand=args.quantity, note=args.note)
    if args.expect is not None:
        update.expected_on_hand = args.expect
    request = pb.BatchUpdateStockRequest(
        request_id=_request_id(args), updates=[update], mode=pb.STOCK_UPDATE_MODE_ALL_OR_NOTHING
    )
    response = inventory.stub.BatchUpdateStock(
        request, timeout=CALL_TIMEOUT_SECONDS, metadata=inventory.metadata
    )
    (result,) = response.results
    payload = {
        "request_id": request.request_id,
        "changed": result.changed,
        "previous_on_hand": result.previous_on_hand,
        "stock_level": level_dict(result.stock_level),
    }
    if not args.json:
        print(
            f"on_hand {result.previous_on_hand} -> {result.stock_level.on_hand}"
            + ("" if result.changed else " (unchanged)")
        )
    _print_levels(args, payload, [result.stock_level])
    return 0


def adjust_level(args: argparse.Namespace, inventory: Inventory) -> int:
    request = pb.AdjustStockRequest(
        request_id=_request_id(args),
        sku=args.sku,
        delta=args.delta,
        reason=_REASONS[args.reason],
        note=args.note,
        location=args.location,
    )
    response = inventory.stub.AdjustStock(request, timeout=CALL_TIMEOUT_SECONDS, metadata=inventory.metadata)
    payload = {"request_id": request.request_id, "stock_level": level_dict(response.stock_level)}
    _print_levels(args, payload, [response.stock_level])
    return 0


def transfer_stock(args: argparse.Namespace, inventory: Inventory) -> int:
    request = pb.TransferStockRequest(
        request_id=_request_id(args),
        sku=args.sku,
        from_location=args.from_location,
        to_location=args.to_location,
        quantity=args.quantity,
        note=args.note,
    )
    response = inventory.stub.TransferStock(
        request, timeout=CALL_TIMEOUT_SECONDS, metadata=inventory.metadata
    )
    payload = {
        "request_id": request.request_id,
        "from_level": level_dict(response.from_level),
        "to_level": level_dict(response.to_level),
    }
    _print_levels(args, payload, [response.from_level, response.to_level])
    return 0

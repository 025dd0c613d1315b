"""`holdfast ...` (also `python -m holdfast`): the one command an operator learns.

Subcommands that talk to inventory_svc use the settings the services and `make seed` read
(INVENTORY_LISTEN, TLS_CA_FILE and the client certificate, CLIENT_TOKEN); the database operations
read DATABASE_URL. Exit codes: 0 done, 1 refused or some row failed, 2 usage (or a file that is
not a catalog file), 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from holdfast_cli import exporter, importer, stock
from holdfast_cli.connection import Inventory, connect
from holdfast_common.security.tls import SecurityConfigError

_OPERATIONS = {
    "migrate": ("apply pending migrations to DATABASE_URL, then the services' roles", "holdfast_ops.migrate"),
    "roles": ("create or update the services' database roles (docs/operations.md)", "holdfast_ops.roles"),
    "audit": ("check every invariant on DATABASE_URL; non-zero exit names each breach", "holdfast_ops.audit"),
    "seed": ("load the demo catalog and price rules into the running services", "holdfast_dev.seed"),
}


def _operation(module: str) -> Callable[[argparse.Namespace, Callable[[], Inventory]], int]:
    def run(args: argparse.Namespace, connect: Callable[[], Inventory]) -> int:
        import importlib

        main: Callable[[], int] = importlib.import_module(module).main
        return main()

    return run


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="holdfast",
        description="Operate holdfast: the database (migrate, roles, audit), demo data (seed), stock "
        "(stock get|set|adjust|transfer) and catalog files (import, export). See docs/operators.md.",
        epilog="Exit codes: 0 done; 1 refused, or some row failed; 2 usage error or not a catalog file; "
        "130 interrupted.",
    )
    subparsers = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_text, module) in _OPERATIONS.items():
        operation = subparsers.add_parser(
            name, help=help_text, description=help_text[0].upper() + help_text[1:] + "."
        )
        operation.set_defaults(run=_operation(module))
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print JSON instead of text")
    stock.add_parsers(subparsers, common)
    importer.add_parser(subparsers)
    exporter.add_parser(subparsers)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.run(args, connect)
    except SecurityConfigError as error:
        print(f"holdfast {args.command}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"holdfast {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`holdfast export | head`): stop quietly, as other Unix tools
        # do. Python would still try to flush stdout at exit and print a second traceback
        # there, so stdout is pointed at /dev/null first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    return code

"""python -m inventory_svc [serve|audit]"""

import sys


def run() -> int:
    command = sys.argv[1] if len(sys.argv) > 1 else "serve"
    if command == "serve":
        from inventory_svc.server import main

        main()
        return 0
    if command == "audit":
        from holdfast_ops.audit import main as audit_main

        return audit_main()
    print(f"usage: python -m inventory_svc [serve|audit]; unknown command {command!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(run())

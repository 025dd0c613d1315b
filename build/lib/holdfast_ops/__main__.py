"""python -m holdfast_ops [migrate|roles|audit]"""

import sys

USAGE = "usage: python -m holdfast_ops [migrate|roles|audit]"


def run() -> int:
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "migrate":
        from holdfast_ops.migrate import main
    elif command == "roles":
        from holdfast_ops.roles import main
    elif command == "audit":
        from holdfast_ops.audit import main
    else:
        print(f"{USAGE}; unknown command {command!r}", file=sys.stderr)
        return 2
    return main()


if __name__ == "__main__":
    raise SystemExit(run())

"""python -m sweeper worker [dramatiq options] | scheduler | healthcheck"""

import sys

USAGE = "usage: python -m sweeper worker [dramatiq options] | scheduler | healthcheck"


def run(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("", [])
    if command == "worker":
        from sweeper.worker import main

        return main(rest)
    if command == "scheduler" and not rest:
        from sweeper.scheduler import main as scheduler_main

        return scheduler_main()
    if command == "healthcheck" and not rest:
        from sweeper.healthcheck import main as healthcheck_main

        return healthcheck_main()
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(run(sys.argv[1:]))

"""The worker process: dramatiq's own supervisor running the expire_holds actor."""

from __future__ import annotations

import sys

from dramatiq import cli

from holdfast_common.settings import get_settings

# One process with two threads keeps a second message from waiting behind a long
# run; more throughput comes from more workers, on any machine sharing Redis.
DEFAULTS = ["--processes", "1", "--threads", "2", "--worker-shutdown-timeout", "10000"]


def main(extra_args: list[str]) -> int:
    """`python -m sweeper worker [dramatiq options]`: options given override the defaults."""
    settings = get_settings()
    if not settings.database_url or not settings.redis_url:
        print("sweeper worker: DATABASE_URL and REDIS_URL must be set", file=sys.stderr)
        return 2
    # The parent imports nothing of the sweeper: each forked worker process imports
    # sweeper.app itself, so no connection is ever shared across a fork.
    args = cli.make_argument_parser().parse_args(["sweeper.app:broker", *DEFAULTS, *extra_args])
    return int(cli.main(args) or 0)

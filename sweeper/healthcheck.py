"""`python -m sweeper healthcheck`: exits 0 when this container can reach the sweeper's Redis.

It runs as a process of its own, so it cannot see inside the worker or the scheduler: it
proves their settings and network reach Redis, the one thing both need to make progress. A
worker or scheduler that dies ends its container, which the restart policy handles.
"""

from __future__ import annotations

import sys

from redis.exceptions import RedisError

from holdfast_common.settings import SweeperSettings
from sweeper.broker import redis_client


def main() -> int:
    """PING the Redis in REDIS_URL; 0 on PONG, 1 when unreachable, 2 when REDIS_URL is unset."""
    sweeper = SweeperSettings()
    if not sweeper.redis_url:
        print("sweeper healthcheck: REDIS_URL is not set", file=sys.stderr)
        return 2
    client = redis_client(sweeper)
    try:
        client.ping()
    except RedisError as exc:
        print(f"sweeper healthcheck: Redis unreachable: {exc}", file=sys.stderr)
        return 1
    finally:
        client.close()
    print("sweeper healthcheck: Redis answers")
    return 0

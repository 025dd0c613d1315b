"""Which scheduler sends: the one holding a Redis lock it keeps renewing."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import uuid

import redis
import structlog
from redis.exceptions import LockError, RedisError

log = structlog.get_logger(__name__)


def leader_key(namespace: str) -> str:
    """The Redis key of the lock; its value names the leading scheduler (host:pid:nonce)."""
    return f"{namespace}:sweeper-scheduler-leader"


class Leadership:
    """A lock with a TTL: the leader renews it well before it lapses; a standby keeps
    trying to take it, and does once a dead leader's lock has expired."""

    def __init__(self, client: redis.Redis, key: str, *, ttl_seconds: float) -> None:
        # The token is set and checked from the scheduler's job threads, so it must
        # not be thread-local.
        self._lock = client.lock(key, timeout=ttl_seconds, thread_local=False)
        self._identity = f"{socket.gethostname()}:{os.getpid()}"
        self._leading = False
        self._resigned = False
        self._mutex = threading.Lock()

    @property
    def leading(self) -> bool:
        return self._leading

    def refresh(self) -> bool:
        """Renews the lock if held, else tries to take it; returns whether this process leads.

        Any doubt (Redis unreachable, the lock lost) means not leading until proven.
        """
        with self._mutex:
            if self._resigned:
                return False  # a renewal still in flight at shutdown must not take it back
            was_leading = self._leading
            try:
                if self._leading:
                    self._lock.reacquire()
                else:
                    token = f"{self._identity}:{uuid.uuid4().hex}"
                    self._leading = self._lock.acquire(blocking=False, token=token)
            except LockError:
                self._leading = False
            except RedisError as exc:
                self._leading = False
                log.warning("leader lock unreachable", error=str(exc))
            if self._leading != was_leading:
                log.info("scheduler leadership changed", leading=self._leading)
            return self._leading

    def resign(self) -> None:
        """Releases the lock so a standby takes over at once rather than after the TTL."""
        with self._mutex:
            self._resigned = True
            if self._leading:
                # If it cannot be released, it lapses by itself after the TTL.
                with contextlib.suppress(LockError, RedisError):
                    self._lock.release()
                self._leading = False

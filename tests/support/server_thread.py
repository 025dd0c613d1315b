"""Runs a grpc.aio server on its own event loop in a background thread, for sync tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from holdfast_common.rpc.server import RunningServer


class ServerThread:
    def __init__(self, factory: Callable[[], Awaitable[RunningServer]]) -> None:
        self._factory = factory
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.running: RunningServer | None = None

    def start(self) -> RunningServer:
        self._thread.start()
        self.running = self.call(self._factory())
        return self.running

    def call(self, coroutine: Awaitable[Any], timeout: float = 60) -> Any:
        """Runs a coroutine on the server's loop and waits for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)  # type: ignore[arg-type]

    def stop(self, grace: float = 1.0) -> None:
        if self.running is not None:
            self.call(self.running.stop(grace))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

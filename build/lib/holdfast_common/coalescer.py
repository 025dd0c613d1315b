"""Group commit: requests that arrive while a batch is running share the next transaction.

Knows nothing of holds or gRPC: it queues items, hands batches of them to a function and
gives each caller the outcome for its own item.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import structlog

from holdfast_common.errors import ErrorKind, HoldfastError

Item = TypeVar("Item")
Result = TypeVar("Result")
log = structlog.get_logger(__name__)

# One outcome per item, in the order given: a result, or the error for that item alone.
BatchRunner = Callable[[Sequence[Item]], Awaitable[Sequence[Result | Exception]]]


@dataclass(eq=False)
class _Pending(Generic[Item, Result]):
    item: Item
    key: Hashable
    give_up_at: float
    future: asyncio.Future[Result] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


# A batch still running after this long is probably waiting on a lock; only then may
# another start beside it. Measured here, one batch at a time serves hot and spread carts
# faster than several (bigger batches, fewer round trips), but a lone stuck batch must not
# hold up the carts queued behind it.
STALL_SECONDS = 0.05


class Coalescer(Generic[Item, Result]):
    """Runs batches of at most `max_batch` items: one at a time, and up to `concurrency` at
    once while the running ones are slow (see STALL_SECONDS).

    There is no waiting window: a batch starts as soon as it may, so a lone request pays
    nothing, and under load batches grow by themselves. Two items with the same key never
    share a batch (the later one goes in a later batch). An item still queued after
    `max_wait` seconds fails with ABORTED, so no caller waits unbounded.
    """

    def __init__(
        self,
        run_batch: BatchRunner[Item, Result],
        *,
        max_batch: int,
        concurrency: int,
        max_wait: float,
    ) -> None:
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._max_wait = max_wait
        self._queue: deque[_Pending[Item, Result]] = deque()
        self._wakeup = asyncio.Event()
        # When each running batch started (time.monotonic()).
        self._running: list[float] = []
        # Runners start empty-handed: made inside the first caller's call, they would
        # otherwise carry its context variables (trace span, log bindings) into every batch.
        loop = asyncio.get_running_loop()
        self._runners = [
            loop.create_task(self._run(), context=contextvars.Context()) for _ in range(concurrency)
        ]

    async def submit(self, item: Item, key: Hashable) -> Result:
        """The outcome of `item`, run in whatever batch it lands in."""
        pending = _Pending[Item, Result](item, key, time.monotonic() + self._max_wait)
        self._queue.append(pending)
        self._wakeup.set()
        # A cancelled caller (deadline, disconnect) leaves its item queued; the runner
        # sees the future is done and drops it. Once a batch has taken it, the effect
        # may still happen, and a retry with the same request_id replays it.
        return await pending.future

    async def close(self) -> None:
        """Stops the runners; items still queued fail with UNAVAILABLE."""
        for runner in self._runners:
            runner.cancel()
        for runner in self._runners:
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        while self._queue:
            pending = self._queue.popleft()
            if not pending.future.done():
                pending.future.set_exception(
                    HoldfastError(ErrorKind.UNAVAILABLE, "SHUTTING_DOWN", "the service is stopping")
                )

    def _take_batch(self) -> list[_Pending[Item, Result]]:
        batch: list[_Pending[Item, Result]] = []
        keys: set[Hashable] = set()
        deferred: list[_Pending[Item, Result]] = []
        now = time.monotonic()
        while self._queue and len(batch) < self._max_batch:
            pending = self._queue.popleft()
            if pending.future.done():
                continue
            if now > pending.give_up_at:
                pending.future.set_exception(
                    HoldfastError(
                        ErrorKind.ABORTED,
                        "QUEUE_TIMEOUT",
                        f"waited over {self._max_wait:g} s for a turn; retry with the same request_id",
                    )
                )
                continue
            if pending.key in keys:
                deferred.append(pending)
                continue
            keys.add(pending.key)
            batch.append(pending)
        # Deferred items keep their place at the head of the queue.
        self._queue.extendleft(reversed(deferred))
        return batch

    async def _my_turn(self) -> None:
        """Waits until there is work and no batch is running, or all running ones stalled."""
        while True:
            timeout = None
            if self._queue:
                if not self._running:
                    return
                timeout = max(self._running) + STALL_SECONDS - time.monotonic()
                if timeout <= 0:
                    return
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout)

    async def _run(self) -> None:
        while True:
            await self._my_turn()
            batch = self._take_batch()
            if not batch:
                continue
            started = time.monotonic()
            self._running.append(started)
            try:
                outcomes = await self._run_batch([p.item for p in batch])
            except asyncio.CancelledError:
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(
                            HoldfastError(ErrorKind.UNAVAILABLE, "SHUTTING_DOWN", "the service is stopping")
                        )
                raise
            except Exception as exc:  # the whole batch failed: every item shares the error
                outcomes = [exc] * len(batch)
            finally:
                self._running.remove(started)
                self._wakeup.set()
            for pending, outcome in zip(batch, outcomes, strict=True):
                if pending.future.done():
                    continue
                if isinstance(outcome, Exception):
                    pending.future.set_exception(outcome)
                else:
                    pending.future.set_result(outcome)

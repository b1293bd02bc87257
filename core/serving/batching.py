"""Adaptive micro-batching: concurrent requests share one forward pass.

Requests queue up while the model is busy; when it is free, one worker takes everything
queued (up to ``max_batch`` items) and, if the batch is not full, waits at most
``max_wait_ms`` for more. Under load batches grow by themselves; a lone request waits at
most ``max_wait_ms``. The forward pass runs in a thread so the event loop keeps accepting.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger("suite.serving")


class BatcherClosed(RuntimeError):
    """The batcher was drained after a hot swap: submit to the model now loaded."""


@dataclass
class _Pending(Generic[T, R]):
    items: Sequence[T]
    future: asyncio.Future[list[R]] = field(repr=False)


class MicroBatcher(Generic[T, R]):
    """Queue requests of ``items`` and run them as one ``run(all_items)`` call per batch.

    ``run`` must return one result per item, in order. ``on_batch(size, seconds)`` is told
    about every forward pass (for metrics). Create it inside a running event loop.
    """

    def __init__(self, run: Callable[[list[T]], list[R]], *, max_batch: int = 32, max_wait_ms: float = 5.0,
                 on_batch: Callable[[int, float], None] | None = None) -> None:
        if max_batch < 1 or max_wait_ms < 0:
            raise ValueError("max_batch must be >= 1 and max_wait_ms >= 0")
        self._run = run
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self._on_batch = on_batch
        self._pending: deque[_Pending[T, R]] = deque()
        self._queued = 0  # items waiting, so "is the batch full" is O(1)
        self._wakeup = asyncio.Event()
        self._closing = False
        self._worker = asyncio.get_running_loop().create_task(self._work(), name="micro-batcher")

    @property
    def queued(self) -> int:
        return self._queued

    async def submit(self, items: Sequence[T]) -> list[R]:
        """The results for ``items``, computed in a batch with whatever else is queued."""
        if self._closing and self._worker.done():
            raise BatcherClosed("batcher closed")
        future: asyncio.Future[list[R]] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(items, future))
        self._queued += len(items)
        self._wakeup.set()
        return await future

    async def drain(self) -> None:
        """Finish everything already queued, then stop (a hot swap's old model)."""
        self._closing = True
        self._wakeup.set()
        await asyncio.shield(self._worker)

    async def close(self) -> None:
        """Stop now; queued requests fail with :class:`BatcherClosed` (server shutdown)."""
        self._closing = True
        self._worker.cancel()
        try:
            await self._worker
        except asyncio.CancelledError:
            pass
        while self._pending:
            pending = self._pending.popleft()
            if not pending.future.done():
                pending.future.set_exception(BatcherClosed("server shutting down"))

    # -- the worker ----------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            while not self._pending:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
            await self._wait_for_more()
            await self._execute(self._take())

    async def _wait_for_more(self) -> None:
        """Give a batch that is not full up to ``max_wait`` to fill (not when draining)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait
        while self._queued < self.max_batch and not self._closing:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except asyncio.TimeoutError:
                return

    def _take(self) -> list[_Pending[T, R]]:
        """Whole requests, oldest first, up to ``max_batch`` items (a bigger one runs alone)."""
        batch: list[_Pending[T, R]] = []
        size = 0
        while self._pending and (not batch or size + len(self._pending[0].items) <= self.max_batch):
            pending = self._pending.popleft()
            self._queued -= len(pending.items)
            if not pending.future.done():  # a client that went away costs nothing
                batch.append(pending)
                size += len(pending.items)
        return batch

    async def _execute(self, batch: list[_Pending[T, R]]) -> None:
        if not batch:
            return
        try:
            results = await self._call([item for pending in batch for item in pending.items])
        except Exception:  # noqa: BLE001 - one bad request must not fail its neighbours
            if len(batch) > 1:
                for pending in batch:
                    await self._execute([pending])
                return
            log.exception("prediction failed")
            _resolve(batch[0].future, exception=RuntimeError("prediction failed"))
            return
        start = 0
        for pending in batch:
            _resolve(pending.future, results[start : start + len(pending.items)])
            start += len(pending.items)

    async def _call(self, items: list[T]) -> list[R]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        results = await asyncio.to_thread(self._run, items)
        if len(results) != len(items):
            raise RuntimeError(f"run() returned {len(results)} results for {len(items)} items")
        if self._on_batch is not None:
            self._on_batch(len(items), loop.time() - started)
        return results


def _resolve(future: asyncio.Future[list[R]], result: list[R] | None = None, *,
             exception: BaseException | None = None) -> None:
    if future.done():
        return
    if exception is not None:
        future.set_exception(exception)
    else:
        future.set_result(result or [])

"""Work waiting for a free handler task: a deque, and the tasks waiting for it.

``asyncio.Queue`` does the same with several Python calls per item on each
side (its size checks, its unfinished-task count and event, a waiter scan
per put and per get); per message they were a tenth of the runtime's time.
Here a batch goes in with one ``extend``, and a task takes the next item
with one ``popleft`` of ``items`` while there is any, awaiting ``wait`` only
when there is none. Unbounded: the poll thread bounds what it hands out.

Waiting tasks are woken one at a time, in a chain: ``put`` wakes one, and a
woken task that leaves items behind wakes the next. Waking one task per item
at once cost a wakeup each (a tenth of the no-op runtime's time) even when
the first task took the whole batch because its handler never suspended;
with a chain, the tasks that run are the ones there is work for, and a task
that has to wait for I/O has woken the next before it suspends.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class Inbox(Generic[T]):
    """Items first in, first out, shared by the tasks of one loop (call everything on it).

    A taker pops one item from ``items`` right after ``wait`` returns, and at
    once, without waiting, while ``items`` is not empty.
    """

    __slots__ = ("_idle", "_waking", "items")

    def __init__(self) -> None:
        self.items: deque[T] = deque()
        """What is waiting; a taker pops from the left."""
        self._idle: deque[asyncio.Future[None]] = deque()
        self._waking = False
        """Whether a woken task has yet to run: it carries the chain on."""

    def put(self, items: Iterable[T]) -> None:
        """Append ``items``; wake a waiting task unless a woken one has yet to run."""
        self.items.extend(items)
        if not self._waking:
            self._wake_one()

    async def wait(self) -> None:
        """Return once ``items`` holds something (at once when it does).

        Before returning it wakes the next waiting task when more than the
        one item its caller takes is left.
        """
        while not self.items:
            idle = asyncio.get_running_loop().create_future()
            self._idle.append(idle)
            try:
                await idle
            except asyncio.CancelledError:
                # Woken, then cancelled before running: pass the wakeup on, or an
                # item could wait while another task sleeps.
                if idle.done() and not idle.cancelled():
                    self._waking = False
                    if self.items:
                        self._wake_one()
                raise
            self._waking = False
        if len(self.items) > 1 and not self._waking:
            self._wake_one()

    def _wake_one(self) -> None:
        """Wake the longest-waiting task, if any; it re-checks ``items`` when it runs."""
        while self._idle:
            idle = self._idle.popleft()
            if not idle.done():  # a cancelled waiter is skipped
                idle.set_result(None)
                self._waking = True
                return

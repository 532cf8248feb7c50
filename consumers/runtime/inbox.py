"""Work waiting for a free handler task: a deque, and the tasks waiting for it.

``asyncio.Queue`` does the same with several Python calls per item on each
side (its size checks, its unfinished-task count and event, a waiter scan
per put and per get); per message they were a tenth of the runtime's time.
Here a batch goes in with one ``extend``, and a task takes the next item
with one ``popleft`` of ``items`` while there is any, awaiting ``wait`` only
when there is none. Unbounded: the poll thread bounds what it hands out.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class Inbox(Generic[T]):
    """Items first in, first out, shared by the tasks of one loop (call everything on it)."""

    __slots__ = ("_idle", "items")

    def __init__(self) -> None:
        self.items: deque[T] = deque()
        """What is waiting; a taker pops from the left."""
        self._idle: deque[asyncio.Future[None]] = deque()

    def put(self, items: Iterable[T]) -> None:
        """Append ``items`` and wake as many waiting tasks as there are items."""
        self.items.extend(items)
        self._wake(len(self.items))

    async def wait(self) -> None:
        """Return once ``items`` holds something (at once when it does)."""
        while not self.items:
            idle = asyncio.get_running_loop().create_future()
            self._idle.append(idle)
            try:
                await idle
            except asyncio.CancelledError:
                # Woken, then cancelled before running: pass the wakeup on, or an
                # item could wait while another task sleeps.
                if idle.done() and not idle.cancelled():
                    self._wake(len(self.items))
                raise

    def _wake(self, count: int) -> None:
        """Wake up to ``count`` waiting tasks; a woken one re-checks ``items``."""
        while count and self._idle:
            idle = self._idle.popleft()
            if not idle.done():  # a cancelled waiter is skipped
                idle.set_result(None)
                count -= 1

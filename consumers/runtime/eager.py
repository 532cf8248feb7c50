"""Start a coroutine at once and make a task of it only if it has to wait.

Most messages of a cheap job finish without ever waiting; creating and
scheduling an asyncio task for each costs more than the work. This is
Python 3.12's eager task execution, for 3.11: the coroutine runs until its
first real suspension, and only then is a task made to drive the rest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any


def start_eagerly(
    loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, None]
) -> asyncio.Task[None] | None:
    """Run ``coroutine`` until it suspends; returns the task that finishes it, or None."""
    try:
        waiting_on = coroutine.send(None)
    except StopIteration:
        return None
    return loop.create_task(_continue(coroutine, waiting_on))


async def _continue(coroutine: Coroutine[Any, Any, None], waiting_on: Any) -> None:
    await _Resumed(coroutine, waiting_on)


class _Resumed:
    """Awaitable that hands the first suspension to the task, then drives the rest.

    The same protocol ``yield from`` follows: whatever the task sends or
    throws in goes to the coroutine; whatever it yields goes to the task.
    """

    def __init__(self, coroutine: Coroutine[Any, Any, None], waiting_on: Any) -> None:
        self._coroutine = coroutine
        self._waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, None]:
        waiting_on = self._waiting_on
        while True:
            try:
                sent = yield waiting_on
            except BaseException as exc:  # cancellation included: the coroutine decides
                try:
                    waiting_on = self._coroutine.throw(exc)
                except StopIteration:
                    return
            else:
                try:
                    waiting_on = self._coroutine.send(sent)
                except StopIteration:
                    return

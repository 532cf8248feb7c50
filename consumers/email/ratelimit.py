"""The client-side limit on Resend requests of one process.

Resend counts requests per team in one-second windows, at its end. A limit
that spaced request *starts* a second apart could still put ``rate + 1``
arrivals into one of its windows whenever an earlier request travels slower
than a later one. So a request holds its slot from before it starts until
``window`` seconds after its answer came back: any ``window`` seconds at
Resend then see at most ``rate`` arrivals, whatever the latency, at the cost
of one round trip per ``rate`` requests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

WINDOW = 1.0
"""Seconds of the window the rate counts in."""


class RateLimiter:
    """At most ``rate`` requests per ``window`` seconds, as the far end counts them.

    Use ``async with limiter.slot():`` around each request. Not thread-safe:
    one per event loop.

    Args:
        rate: requests per window (``RESEND_RATE_LIMIT``).
        window: seconds; default ``WINDOW`` (1 s).
    """

    def __init__(self, *, rate: int, window: float = WINDOW) -> None:
        self.rate = rate
        self._window = window
        self._slots = asyncio.Semaphore(rate)
        self._held_until = 0.0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait for a free slot (and any hold), keep it for the block and ``window`` after."""
        await self._slots.acquire()
        try:
            while (delay := self._held_until - time.monotonic()) > 0:
                await asyncio.sleep(delay)
            yield
        finally:
            asyncio.get_running_loop().call_later(self._window, self._slots.release)

    def hold(self, seconds: float) -> None:
        """Let no request start for ``seconds`` (the far end said ``retry-after``)."""
        self._held_until = max(self._held_until, time.monotonic() + seconds)

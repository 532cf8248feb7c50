"""The per-process limit: no window sees more than the rate, whatever the latency."""

from __future__ import annotations

import asyncio
import random
import time

from consumers.email.ratelimit import RateLimiter


def test_no_window_sees_more_than_the_rate_when_latency_varies() -> None:
    arrivals: list[float] = []

    async def request(limiter: RateLimiter) -> None:
        async with limiter.slot():
            # The far end sees the request somewhere between start and answer.
            await asyncio.sleep(random.uniform(0.0, 0.05))
            arrivals.append(time.monotonic())
            await asyncio.sleep(random.uniform(0.0, 0.05))

    async def main() -> None:
        limiter = RateLimiter(rate=5, window=0.5)
        await asyncio.gather(*(request(limiter) for _ in range(25)))

    asyncio.run(main())
    arrivals.sort()
    for index, at in enumerate(arrivals):
        assert len([other for other in arrivals[index:] if other < at + 0.5]) <= 5
    assert arrivals[-1] - arrivals[0] >= 4 * 0.5  # 25 requests need at least 5 windows


def test_a_hold_delays_every_request_after_it() -> None:
    async def main() -> float:
        limiter = RateLimiter(rate=10)
        limiter.hold(0.3)
        started = time.monotonic()
        async with limiter.slot():
            return time.monotonic() - started

    assert asyncio.run(main()) >= 0.3

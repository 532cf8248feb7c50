"""The endpoint config cache: fresh within its TTL, re-read after it."""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine, update

from consumers.webhook.endpoints import EndpointCache
from consumers.webhook.registry import add_endpoint
from schemas.tables import webhooks


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_config_is_reused_within_the_ttl_and_reread_after_it(db: Engine) -> None:
    endpoint = add_endpoint(db, "https://before.example/hook")
    clock = Clock()
    cache = EndpointCache(db, ttl=30, clock=clock)
    seen: list[str] = []

    async def scenario() -> None:
        seen.append((await cache.get(endpoint.id)).url)
        with db.begin() as connection:
            connection.execute(
                update(webhooks)
                .where(webhooks.c.id == endpoint.id)
                .values(url="https://after.example/hook")
            )
        clock.now += 29
        seen.append((await cache.get(endpoint.id)).url)
        clock.now += 2
        seen.append((await cache.get(endpoint.id)).url)

    asyncio.run(scenario())

    assert seen == [
        "https://before.example/hook",
        "https://before.example/hook",
        "https://after.example/hook",
    ]

"""Running a ``SchedulerService`` in a thread of its own, and talking to its HTTP side."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scheduler.service import SchedulerService
from tests.kafka_support import wait_until


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: status and JSON body."""

    status: int
    body: dict[str, Any]


class FixedClock:
    """A clock that says ``now`` until a test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@contextlib.contextmanager
def serving(service: SchedulerService) -> Iterator[SchedulerService]:
    """Run ``service`` on a loop in a thread while the block runs; it must stop cleanly."""
    loop = asyncio.new_event_loop()
    failures: list[BaseException] = []

    def main() -> None:
        try:
            loop.run_until_complete(service.run())
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=main, name="scheduler", daemon=True)
    thread.start()
    wait_until(lambda: service.address is not None or bool(failures), timeout=30)
    assert not failures, failures
    try:
        yield service
    finally:
        loop.call_soon_threadsafe(service.stop)
        thread.join(30)
        loop.close()
    assert not thread.is_alive(), "the scheduler did not stop"
    assert not failures, failures


def request(
    service: SchedulerService,
    path: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    token: str | None = None,
) -> Reply:
    """One HTTP request to the service; any status comes back as a ``Reply``."""
    assert service.address is not None
    host, port = service.address
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    call = urllib.request.Request(
        f"http://{host}:{port}{path}", data=body, method=method, headers=headers
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(call, timeout=30) as answer:
            return Reply(answer.status, json.loads(answer.read()))
    except urllib.error.HTTPError as refused:
        return Reply(refused.code, json.loads(refused.read()))

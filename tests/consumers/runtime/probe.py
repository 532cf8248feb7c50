"""A job for testing the runtime: its events script how the handler behaves.

Run as ``python -m tests.consumers.runtime.probe LOG_FILE`` it consumes with
settings from the environment and appends one line per handled event to
LOG_FILE, for the crash tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from consumers.job import Context, Handler, Job
from consumers.runtime.runner import Runner
from schemas.events import Event
from schemas.topics import TopicSpec
from streamjobs.errors import FatalError, RetryableError
from streamjobs.logs import configure_logging
from streamjobs.sentry import init_sentry
from streamjobs.settings import Settings, load_settings


class ProbeEvent(Event):
    """How the handler should treat this event."""

    id: int
    fail_times: int = 0
    fatal: bool = False
    crash: bool = False
    escape: bool = False
    sleep: float = 0.0
    retry_after: float | None = None


PROBE_TOPIC: TopicSpec[ProbeEvent] = TopicSpec(
    name="probe", job="probe", group="streamjobs.probe", model=ProbeEvent
)
"""A topic outside the registry, used only by the tests."""

PROBE_CONCURRENCY = 100
"""The probe's in-flight limit unless a test sets ``CONSUMER_CONCURRENCY``."""


@dataclass(frozen=True)
class Call:
    """One handler call as the probe saw it."""

    id: int
    attempt: int
    event_id: str
    topic: str
    at: float
    in_task: bool


@dataclass
class Journal:
    """Every handler call, thread-safe."""

    calls: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def begin(self, event: int) -> None:
        """A handler call for ``event`` started."""

    def record(self, call: Call) -> None:
        """A handler call finished its work (it may still raise)."""
        with self.lock:
            self.calls.append(call)

    def of(self, event: int) -> list[Call]:
        with self.lock:
            return [call for call in self.calls if call.id == event]

    def ids(self) -> list[int]:
        with self.lock:
            return [call.id for call in self.calls]


def probe_job(journal: Journal) -> Job[ProbeEvent]:
    """A job whose handler records each call in ``journal`` and does what the event says."""

    async def handle(event: ProbeEvent, context: Context) -> None:
        journal.begin(event.id)
        if event.sleep:
            await asyncio.sleep(event.sleep)
        journal.record(
            Call(
                event.id,
                context.attempt,
                context.event_id,
                context.topic,
                time.time(),
                in_task=asyncio.current_task() is not None,
            )
        )
        if event.fatal:
            raise FatalError(f"probe {event.id} is fatal", code="E_PROBE")
        if event.crash:
            raise ZeroDivisionError("probe crashed")
        if event.escape:
            raise SystemExit("probe escapes the runtime's error handling")
        if context.attempt <= event.fail_times:
            raise RetryableError(
                f"probe {event.id} fails attempt {context.attempt}",
                http_status=503,
                retry_after=event.retry_after,
            )

    @contextlib.asynccontextmanager
    async def open_probe(
        _settings: Settings, /, *, concurrency: int
    ) -> AsyncIterator[Handler[ProbeEvent]]:
        yield handle

    return Job(topic=PROBE_TOPIC, open=open_probe, concurrency=PROBE_CONCURRENCY)


class FileJournal(Journal):
    """Appends each handled event's id to a line-buffered file, which survives SIGKILL."""

    def __init__(self, log: TextIO) -> None:
        super().__init__()
        self.log = log

    def begin(self, event: int) -> None:
        self.log.write(f"begin {event}\n")

    def record(self, call: Call) -> None:
        self.log.write(f"done {call.id}\n")


def _main(log_path: str) -> int:
    settings = load_settings()
    configure_logging(level="INFO", fmt="text")
    init_sentry(settings, component="probe")
    with Path(log_path).open("a", buffering=1) as log:
        runner = Runner([probe_job(FileJournal(log))], settings)
        return runner.run_until_signalled()


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1]))

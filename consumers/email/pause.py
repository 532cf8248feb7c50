"""The gate every Resend request of a process passes: open, or paused until a quota resets.

A used-up quota or a refused API key fails every email alike, so instead of
dead-lettering them the gate closes: handlers wait in front of it (nothing
sent, nothing dead-lettered, no attempt spent), the runtime stops fetching
once its in-flight limit is reached, and the poll loop stays in the group.
When the pause can have ended (the next UTC midnight for the daily quota,
``EMAIL_QUOTA_PROBE_INTERVAL`` for a monthly quota or the key), one request
goes through as a probe; its success opens the gate, another pause answer
closes it again. A pause logs one error line, which Sentry's logging
integration turns into one event; resuming logs at info.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from consumers.email.classify import PauseReason, Verdict

logger = logging.getLogger("streamjobs.email")

PROBE_POLL = 0.5
"""Seconds between looks at the gate while another request is probing."""

WallClock = Callable[[], datetime]
"""The current time, aware; injectable so that tests can stand just before midnight."""


def utc_now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def next_utc_midnight(now: datetime) -> datetime:
    """The first UTC midnight after ``now`` (aware): when Resend's daily quota resets."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=1)


class PauseGate:
    """Open, or closed until a quota or the API key lets emails go again.

    Args:
        probe_interval: seconds between probes for a monthly quota or a
            refused key (``EMAIL_QUOTA_PROBE_INTERVAL``).
        clock: wall clock for the daily reset; default ``utc_now``.
    """

    def __init__(self, *, probe_interval: float, clock: WallClock = utc_now) -> None:
        self._probe_interval = probe_interval
        self._clock = clock
        self._open = asyncio.Event()
        self._open.set()
        self._until = 0.0
        self._reason: PauseReason | None = None
        self._prober: asyncio.Task[object] | None = None

    @property
    def paused(self) -> bool:
        """True while the gate is closed."""
        return not self._open.is_set()

    def may_pass(self) -> bool:
        """True when the gate is open or the caller is the probe (check again after a wait)."""
        return not self.paused or self._prober is asyncio.current_task()

    @asynccontextmanager
    async def passage(self) -> AsyncIterator[None]:
        """Wait until a request may go; while paused, only the one probe passes."""
        await self._enter()
        try:
            yield
        finally:
            if self._prober is asyncio.current_task():
                self._prober = None  # the probe ended without an answer: the next one may go

    async def _enter(self) -> None:
        while self.paused:
            remaining = self._until - time.monotonic()
            if remaining <= 0 and self._prober is None:
                self._prober = asyncio.current_task()
                return
            timeout = remaining if remaining > 0 else PROBE_POLL
            try:
                await asyncio.wait_for(self._open.wait(), timeout)
            except TimeoutError:
                continue

    def pause(self, verdict: Verdict, *, facts: dict[str, object]) -> None:
        """Close the gate for ``verdict.pause``; log once per pause.

        Args:
            verdict: a ``pause`` verdict.
            facts: what identifies the request (event id, chunk), for the log line.
        """
        assert verdict.pause is not None
        seconds = self._seconds_of(verdict.pause)
        self._until = max(self._until, time.monotonic() + seconds)
        resume_at = (self._clock() + timedelta(seconds=seconds)).isoformat(timespec="seconds")
        details = facts | {
            "reason": verdict.pause,
            "error": verdict.message,
            "http_status": verdict.http_status,
            "resume_at": resume_at,
        }
        if self.paused:
            logger.info("email sending still paused", extra=details)
        else:
            self._open.clear()
            logger.error("email sending paused; no email is sent or dead-lettered", extra=details)
        self._reason = verdict.pause
        if self._prober is asyncio.current_task():
            self._prober = None

    def resume(self) -> None:
        """Open the gate: a request went through."""
        if self.paused:
            logger.info("email sending resumed", extra={"reason": self._reason})
            self._open.set()
            self._reason = None

    def _seconds_of(self, reason: PauseReason) -> float:
        if reason == "daily_quota":
            now = self._clock()
            return max((next_utc_midnight(now) - now).total_seconds(), 0.0)
        return self._probe_interval

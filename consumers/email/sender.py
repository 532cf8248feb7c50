"""One Resend request through the pause gate and the rate limit, its answer classified.

Both email jobs of a process share one ``Sender`` (so one rate limit, one
gate, one connection pool): ``shared_sender`` hands the same one to every
job on the event loop and closes it when the last job leaves. A rate 429
waits for its ``retry-after`` and tries again inside the handler, so no
attempt is spent; a quota or key answer closes the gate and the request
waits there; everything else becomes a ``RetryableError`` or ``FatalError``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

from resend.exceptions import NoContentError, ResendError

from consumers.email import codes
from consumers.email.classify import Verdict, classify
from consumers.email.client import open_resend_client
from consumers.email.pause import PauseGate, WallClock, utc_now
from consumers.email.ratelimit import RateLimiter
from streamjobs.errors import FatalError, JobError, RetryableError
from streamjobs.settings import Settings

logger = logging.getLogger("streamjobs.email")

RATE_WAITS_MAX = 20
"""Rate 429s one request waits out in the handler before it spends an attempt."""

NO_KEY = Verdict(
    kind="pause",
    code=codes.E_RESEND_API_KEY,
    message="RESEND_API_KEY is not set",
    pause="api_key",
)
"""What an unset key means: no request is made, the job pauses and says why."""

T = TypeVar("T")


class Sender:
    """Sends requests to Resend for every email job of one process.

    Args:
        limiter: the process's rate limit.
        gate: the process's pause gate.
        has_key: False when ``RESEND_API_KEY`` is unset: nothing is sent.
        retry_after_max: most seconds of a honoured ``retry-after``.
    """

    def __init__(
        self, *, limiter: RateLimiter, gate: PauseGate, has_key: bool, retry_after_max: float
    ) -> None:
        self._limiter = limiter
        self._gate = gate
        self._has_key = has_key
        self._retry_after_max = retry_after_max

    async def send(self, request: Callable[[], Awaitable[T]], *, facts: dict[str, object]) -> T:
        """Run ``request`` (an SDK call) until Resend accepts it or a failure is final.

        Args:
            request: makes the SDK call; called again after a wait or a pause.
            facts: identify the request in log lines (event id, chunk); never
                an address, subject or body.

        Raises:
            RetryableError: 5xx, no answer, a key still in progress, or rate
                429s beyond ``RATE_WAITS_MAX``.
            FatalError: a validation error or an idempotency key reused with
                another payload.
        """
        waits = 0
        while True:
            outcome = await self._attempt(request, facts)
            if not isinstance(outcome, Verdict):
                return outcome
            if outcome.kind != "wait" or waits >= RATE_WAITS_MAX:
                raise error_of(outcome)
            waits += 1
            delay = min(outcome.retry_after or 0.0, self._retry_after_max)
            self._limiter.hold(delay)
            logger.info(
                "Resend rate limit answered; waiting", extra=facts | {"retry_after_s": delay}
            )
            await asyncio.sleep(delay)

    async def _attempt(
        self, request: Callable[[], Awaitable[T]], facts: dict[str, object]
    ) -> T | Verdict:
        """One pass through the gate: the result, or a verdict other than ``pause``."""
        while True:
            async with self._gate.passage(), self._limiter.slot():
                if not self._gate.may_pass():
                    continue  # paused while this request waited for its slot
                if not self._has_key:
                    verdict = NO_KEY
                else:
                    try:
                        result = await request()
                    except (ResendError, NoContentError) as error:
                        verdict = classify(error)
                    else:
                        self._gate.resume()
                        return result
                if verdict.kind != "pause":
                    return verdict
                self._gate.pause(verdict, facts=facts)


def error_of(verdict: Verdict) -> JobError:
    """The ``RetryableError`` or ``FatalError`` a non-pause verdict stands for."""
    if verdict.kind == "fatal":
        return FatalError(verdict.message, code=verdict.code, http_status=verdict.http_status)
    return RetryableError(
        verdict.message,
        code=verdict.code,
        http_status=verdict.http_status,
        retry_after=verdict.retry_after,
    )


@dataclass(kw_only=True)
class _Shared:
    sender: Sender
    resources: AsyncExitStack
    users: int = 0


_SHARED: dict[asyncio.AbstractEventLoop, _Shared] = {}
"""The sender of each event loop running email jobs (one loop per process in production)."""


@asynccontextmanager
async def shared_sender(settings: Settings, *, clock: WallClock = utc_now) -> AsyncIterator[Sender]:
    """The one ``Sender`` of this event loop; the first caller opens it, the last closes it.

    Args:
        settings: ``RESEND_*``, ``EMAIL_QUOTA_PROBE_INTERVAL``, ``RETRY_AFTER_MAX``.
        clock: wall clock of the daily quota reset (tests stand before
            midnight); the first caller's counts.
    """
    loop = asyncio.get_running_loop()
    shared = _SHARED.get(loop)
    if shared is None:
        resources = AsyncExitStack()
        await resources.enter_async_context(open_resend_client(settings))
        sender = Sender(
            limiter=RateLimiter(rate=settings.resend_rate_limit),
            gate=PauseGate(probe_interval=settings.email_quota_probe_interval, clock=clock),
            has_key=settings.resend_api_key is not None,
            retry_after_max=settings.retry_after_max,
        )
        shared = _SHARED[loop] = _Shared(sender=sender, resources=resources)
    shared.users += 1
    try:
        yield shared.sender
    finally:
        shared.users -= 1
        if shared.users == 0:
            del _SHARED[loop]
            await shared.resources.aclose()

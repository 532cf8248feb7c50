"""The ``email.send`` job: one email through Resend, exactly once.

``open_email_handler`` opens the process's shared ``Sender`` (rate limit,
pause gate, pooled client) and the delivery record, and yields the handler.
The request carries the event id as idempotency key, and its outcome is
recorded in ``email_deliveries`` (chunk 0) before the handler returns, so a
retry, a redelivery or a replay of a sent email sends nothing.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TypeVar

import resend

from consumers.email.compose import idempotency_key, recipient_count, resend_params
from consumers.email.deliveries import SINGLE_CHUNK, ChunkRow, DeliveryLog
from consumers.email.pause import WallClock, utc_now
from consumers.email.sender import Sender, shared_sender
from consumers.job import Context, Handler, Job
from schemas.events import EmailSend
from schemas.topics import EMAIL_SEND
from streamjobs.database import sync_engine
from streamjobs.errors import JobError
from streamjobs.settings import Settings

logger = logging.getLogger("streamjobs.email")

T = TypeVar("T")


async def send_recorded(
    sender: Sender,
    log: DeliveryLog,
    request: Callable[[], Awaitable[T]],
    *,
    event_id: str,
    chunk: int,
    emails: int,
) -> T:
    """``sender.send(request)``; a failure is recorded as a ``failed`` row, then raised.

    Args:
        sender: the process's sender.
        log: the delivery record.
        request: the SDK call.
        event_id: the event's id.
        chunk: the chunk (``SINGLE_CHUNK`` for a single email).
        emails: emails in the request, for the log line.
    """
    facts: dict[str, object] = {"event_id": event_id, "chunk": chunk, "emails": emails}
    try:
        return await sender.send(request, facts=facts)
    except JobError as exc:
        failure = f"{exc.code}: {exc.message}"
        await log.write(ChunkRow(event_id=event_id, chunk=chunk, outcome="failed", error=failure))
        raise


class EmailHandler:
    """Sends one ``email.send`` event per call; see ``consumers.job.Handler``.

    Args:
        sender: the process's sender.
        log: the delivery record.
        default_sender: ``EMAIL_FROM``.
    """

    def __init__(self, *, sender: Sender, log: DeliveryLog, default_sender: str | None) -> None:
        self._sender = sender
        self._log = log
        self._default_sender = default_sender

    async def __call__(self, event: EmailSend, context: Context) -> None:
        """Send ``event`` unless it was sent before; record the outcome.

        Raises:
            FatalError: no sender (``E_NO_SENDER``), Resend refused the email
                (``E_RESEND_VALIDATION``) or its key (``E_RESEND_IDEMPOTENCY``).
            RetryableError: Resend or the database did not answer, or a 5xx.
        """
        event_id = context.event_id
        if SINGLE_CHUNK in await self._log.done(event_id):
            logger.info("email already sent; skipped", extra={"event_id": event_id})
            return
        params = resend_params(event, default_sender=self._default_sender)
        options: resend.Emails.SendOptions = {"idempotency_key": idempotency_key(event_id)}
        response = await send_recorded(
            self._sender,
            self._log,
            lambda: resend.Emails.send_async(params, options),
            event_id=event_id,
            chunk=SINGLE_CHUNK,
            emails=1,
        )
        resend_id = str(response["id"])
        await self._log.write(
            ChunkRow(
                event_id=event_id,
                chunk=SINGLE_CHUNK,
                outcome="sent",
                resend_ids=[resend_id],
                recipients=recipient_count(event),
            )
        )
        logger.info("email sent", extra={"event_id": event_id, "resend_ids": [resend_id]})


@asynccontextmanager
async def open_resources(
    settings: Settings, *, clock: WallClock
) -> AsyncIterator[tuple[Sender, DeliveryLog]]:
    """The shared sender and a delivery record on a new engine, closed on exit."""
    engine = sync_engine(settings)
    async with AsyncExitStack() as stack:
        stack.callback(engine.dispose)
        sender = await stack.enter_async_context(shared_sender(settings, clock=clock))
        yield sender, DeliveryLog(engine)


@asynccontextmanager
async def open_email_handler(
    settings: Settings, /, *, concurrency: int, clock: WallClock = utc_now
) -> AsyncIterator[Handler[EmailSend]]:
    """Open the shared sender and the delivery record; yield the handler.

    Args:
        settings: the process's settings.
        concurrency: unused beyond the runtime's own limit: the rate limit,
            shared with the batch job, bounds the requests.
        clock: wall clock of the daily quota reset; default ``utc_now``.
    """
    del concurrency
    async with open_resources(settings, clock=clock) as (sender, log):
        yield EmailHandler(sender=sender, log=log, default_sender=settings.email_from)


EMAIL_CONCURRENCY = 4
"""Emails in flight per process by default: a few keep up with Resend's rate limit."""

JOB = Job(topic=EMAIL_SEND, open=open_email_handler, concurrency=EMAIL_CONCURRENCY)
"""The single-email job, as the runtime registers it."""

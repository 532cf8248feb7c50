"""The ``email.send-batch`` job: many emails in chunks through Resend's batch endpoint.

Each chunk of ``EMAIL_BATCH_SIZE`` emails is one request with the idempotency
key ``<event-id>:<chunk>`` and ``x-batch-validation: permissive``, so Resend
queues the valid emails and lists the ones it refuses. Chunks already done
in ``email_deliveries`` are skipped: a failure in chunk 3 sends only chunk 3
and what follows it again. Every email ends sent or rejected; once every
chunk is done, rejected emails send the event to the DLQ (``E_EMAIL_REJECTED``,
naming their indexes and fields) while the valid ones have gone out.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import resend

from consumers.email import codes
from consumers.email.classify import scrub
from consumers.email.compose import Checked, chunked, idempotency_key
from consumers.email.deliveries import ChunkRow, DeliveryLog
from consumers.email.job import open_resources, send_recorded
from consumers.email.pause import WallClock, utc_now
from consumers.email.sender import Sender
from consumers.job import Context, Handler, Job
from schemas.events import EmailSendBatch
from schemas.topics import EMAIL_SEND_BATCH
from streamjobs.errors import FatalError
from streamjobs.settings import Settings

logger = logging.getLogger("streamjobs.email")


class BatchHandler:
    """Sends one ``email.send-batch`` event per call; see ``consumers.job.Handler``.

    Args:
        sender: the process's sender.
        log: the delivery record.
        default_sender: ``EMAIL_FROM``.
        chunk_size: ``EMAIL_BATCH_SIZE``.
    """

    def __init__(
        self, *, sender: Sender, log: DeliveryLog, default_sender: str | None, chunk_size: int
    ) -> None:
        self._sender = sender
        self._log = log
        self._default_sender = default_sender
        self._chunk_size = chunk_size

    async def __call__(self, event: EmailSendBatch, context: Context) -> None:
        """Send every chunk not done yet, then fail if any email was rejected.

        Raises:
            FatalError: emails were rejected (``E_EMAIL_REJECTED``; the rest
                were sent), or Resend refused a whole chunk.
            RetryableError: Resend or the database did not answer, or a 5xx;
                the next attempt starts at the chunk that failed.
        """
        event_id = context.event_id
        done = await self._log.done(event_id)
        chunks = chunked(event.emails, size=self._chunk_size, default_sender=self._default_sender)
        for number, chunk in enumerate(chunks, start=1):
            if number not in done:
                done[number] = await self._send(event_id, number, chunk)
        rejected = [f"chunk {n}: {row.error}" for n, row in sorted(done.items()) if row.error]
        if rejected:
            raise FatalError(
                "emails rejected, the others sent: " + "; ".join(rejected),
                code=codes.E_EMAIL_REJECTED,
            )

    async def _send(self, event_id: str, number: int, chunk: list[Checked]) -> ChunkRow:
        valid = [email for email in chunk if email.params is not None]
        refused = [email.describe() for email in chunk if email.params is None]
        if valid:
            row = await self._request(event_id, number, valid, refused)
        else:
            row = ChunkRow(
                event_id=event_id, chunk=number, outcome="rejected", error="; ".join(refused)
            )
        await self._log.write(row)
        logger.info(
            "email chunk done",
            extra={
                "event_id": event_id,
                "chunk": number,
                "outcome": row.outcome,
                "sent": len(row.resend_ids or ()),
                "rejected": len(chunk) - len(row.resend_ids or ()),
                "resend_ids": row.resend_ids,
            },
        )
        return row

    async def _request(
        self, event_id: str, number: int, valid: list[Checked], refused: list[str]
    ) -> ChunkRow:
        """Send the valid emails of chunk ``number``; its row, with Resend's refusals added."""
        params = [email.params for email in valid if email.params is not None]
        options: resend.Batch.SendOptions = {
            "idempotency_key": idempotency_key(event_id, number),
            "batch_validation": "permissive",
        }
        response = await send_recorded(
            self._sender,
            self._log,
            lambda: resend.Batch.send_async(params, options),
            event_id=event_id,
            chunk=number,
            emails=len(valid),
        )
        # Permissive mode: ``errors`` indexes the request's list, ``data`` the accepted ones.
        errors = {int(item["index"]): str(item["message"]) for item in response.get("errors") or []}
        refused += [f"#{valid[i].index} {scrub(message)}" for i, message in sorted(errors.items())]
        accepted = [email for i, email in enumerate(valid) if i not in errors]
        ids = [str(item["id"]) for item in response.get("data") or []]
        return ChunkRow(
            event_id=event_id,
            chunk=number,
            outcome="sent" if ids else "rejected",
            resend_ids=ids,
            recipients=sum(email.recipients for email in accepted),
            error="; ".join(refused) or None,
        )


@asynccontextmanager
async def open_batch_handler(
    settings: Settings, /, *, concurrency: int, clock: WallClock = utc_now
) -> AsyncIterator[Handler[EmailSendBatch]]:
    """Open the shared sender and the delivery record; yield the handler.

    Args:
        settings: the process's settings.
        concurrency: unused beyond the runtime's own limit: the rate limit,
            shared with the single-email job, bounds the requests.
        clock: wall clock of the daily quota reset; default ``utc_now``.
    """
    del concurrency
    async with open_resources(settings, clock=clock) as (sender, log):
        yield BatchHandler(
            sender=sender,
            log=log,
            default_sender=settings.email_from,
            chunk_size=settings.email_batch_size,
        )


EMAIL_BATCH_CONCURRENCY = 2
"""Batch events in flight per process by default; each sends its chunks in turn."""

JOB = Job(topic=EMAIL_SEND_BATCH, open=open_batch_handler, concurrency=EMAIL_BATCH_CONCURRENCY)
"""The batch email job, as the runtime registers it."""

"""The ``webhook.send`` job: sign, guard, send, log, classify.

``JOB`` is what the runtime registers. ``open_webhook_handler(settings, ...)``
opens the process's HTTP pool, endpoint cache and delivery writer, and yields
the handler; every attempt writes its delivery row (``pending``) before its
POST and settles it before the handler returns or raises.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime

import msgspec

from consumers.job import Context, Handler, Job
from consumers.webhook.client import WebhookClient, open_client
from consumers.webhook.codes import E_BAD_SECRET
from consumers.webhook.deliveries import DeliveryRow, DeliveryWriter
from consumers.webhook.endpoints import EndpointCache
from consumers.webhook.outcomes import (
    GONE,
    PENDING,
    Outcome,
    outcome_of_error,
    outcome_of_reply,
)
from consumers.webhook.registry import Endpoint
from consumers.webhook.signing import parse_secret, sign
from schemas.events import WebhookSend
from schemas.topics import WEBHOOK_SEND
from streamjobs.database import libpq_url, sync_engine
from streamjobs.errors import FatalError
from streamjobs.settings import Settings

BODY_ENCODER = msgspec.json.Encoder()
"""Compact UTF-8 JSON, keys in their order: a tenth of the time of ``json``'s encoder."""


def encode_body(event: WebhookSend, sent_at: datetime) -> bytes:
    """The request body: ``{"type", "timestamp", "data"}`` as compact UTF-8 JSON.

    Args:
        event: the event; ``event_type`` becomes ``type``, ``payload`` ``data``.
        sent_at: the aware time written as ``timestamp`` (ISO 8601, UTC, ``Z``).
    """
    stamp = sent_at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    document = {"type": event.event_type, "timestamp": stamp, "data": event.payload}
    return BODY_ENCODER.encode(document)


def signing_keys(endpoint: Endpoint, now: datetime) -> list[bytes]:
    """HMAC keys that sign at ``now``: the current secret, and the previous one in its grace.

    Raises:
        FatalError: a stored secret is malformed (``E_BAD_SECRET``).
    """
    try:
        return [parse_secret(secret) for secret in endpoint.secrets_at(now)]
    except ValueError as exc:
        raise FatalError(f"webhook {endpoint.id}: {exc}", code=E_BAD_SECRET) from None


AttemptKey = tuple[str, uuid.UUID, int]
"""``(event id, webhook id, attempt)``: the delivery log's key of an attempt."""


class AttemptsInFlight:
    """The attempts this process is making, each from its pending row to its outcome.

    Two copies of one attempt can be handled at once: a crash splits an event
    into two chains (the retry copy written before it, and the one its redo
    writes), and a redelivery can overlap the first delivery. The log cannot
    tell a copy of an attempt in flight from a redo after a crash, which sends
    again; so a second copy waits here until the first is over, then reads
    its outcome back from the log.
    """

    def __init__(self) -> None:
        # Per attempt in flight, the futures of the copies waiting for it.
        self._waiting: dict[AttemptKey, list[asyncio.Future[None]]] = {}

    async def enter(self, key: AttemptKey) -> None:
        """Wait until no other copy of attempt ``key`` is in flight, then hold it."""
        while (waiting := self._waiting.get(key)) is not None:
            over = asyncio.get_running_loop().create_future()
            waiting.append(over)
            await over
        self._waiting[key] = []

    def leave(self, key: AttemptKey) -> None:
        """The attempt is over: wake the copies waiting for it."""
        for over in self._waiting.pop(key):
            if not over.done():  # its caller was cancelled
                over.set_result(None)


class WebhookHandler:
    """Delivers one ``webhook.send`` event per call; see ``consumers.job.Handler``.

    Args:
        client: the pooled HTTP client.
        endpoints: the endpoint config cache.
        deliveries: the delivery row writer.
        retry_after_max: most seconds of a honoured ``Retry-After``.
    """

    def __init__(
        self,
        *,
        client: WebhookClient,
        endpoints: EndpointCache,
        deliveries: DeliveryWriter,
        retry_after_max: float,
    ) -> None:
        self._in_flight = AttemptsInFlight()
        self._client = client
        self._endpoints = endpoints
        self._deliveries = deliveries
        self._retry_after_max = retry_after_max

    async def __call__(self, event: WebhookSend, context: Context) -> None:
        """Send ``event`` once, log the attempt, then return or raise.

        The attempt's row is written ``pending`` before the POST. Nothing is
        sent when the log shows the event delivered on this endpoint already
        (another chain of it, or an earlier owner of this message, succeeded):
        the message is then done. A redelivered attempt that an earlier owner
        settled is not sent again either: its logged outcome is raised again.
        A copy of an attempt this process is making waits for it, then does
        the same (``AttemptsInFlight``).

        Raises:
            RetryableError: timeouts (``E_TIMEOUT``), connection (``E_CONNECT``)
                and lookup (``E_DNS``) failures, 408, 425, 429 and 5xx (``E_HTTP``,
                with ``retry_after``), database trouble (``E_DATABASE``).
            FatalError: 3xx (``E_REDIRECT``), other 4xx (``E_HTTP``; 410 also
                disables the endpoint), a refused target (``E_BLOCKED_TARGET``),
                an unknown or disabled endpoint, a malformed URL or secret.
        """
        key = (context.event_id, event.webhook_id, context.overall_attempt)
        await self._in_flight.enter(key)
        try:
            await self._deliver(event, context)
        finally:
            self._in_flight.leave(key)

    async def _deliver(self, event: WebhookSend, context: Context) -> None:
        started = time.monotonic()
        try:
            endpoint = await self._endpoints.get(event.webhook_id)
        except Exception as exc:  # no POST: the outcome is logged without a pending row
            await self._settle(event, context, outcome_of_error(exc), started)
            return
        prior = await self._deliveries.begin(delivery_row(event, context, PENDING_OUTCOME, None))
        if prior.delivered:
            return
        if prior.recorded is not None:
            prior.recorded.raise_if_failed()
            return
        outcome, started = await self._attempt(event, context, endpoint)
        if outcome.http_status == GONE:
            reason = (
                f"HTTP 410 Gone answered to event {context.event_id}"
                f" (attempt {context.overall_attempt})"
            )
            await self._endpoints.disable(event.webhook_id, reason)
        await self._settle(event, context, outcome, started)

    async def _settle(
        self, event: WebhookSend, context: Context, outcome: Outcome, started: float
    ) -> None:
        """Log ``outcome``; raise it unless the event is delivered (by this attempt or another)."""
        duration_ms = round((time.monotonic() - started) * 1000)
        row = delivery_row(event, context, outcome, duration_ms)
        if not await self._deliveries.settle(row):
            outcome.raise_if_failed()

    async def _attempt(
        self, event: WebhookSend, context: Context, endpoint: Endpoint
    ) -> tuple[Outcome, float]:
        """POST ``event``; its outcome, and the ``time.monotonic()`` at which its turn came.

        The client queues a POST while the job's concurrency is in flight;
        the wait is no part of the attempt's duration. The request is signed
        before it: its timestamp is then older by the wait, a few exchanges at
        most, where receivers tolerate minutes.
        """
        started = time.monotonic()

        def turn_came() -> None:
            nonlocal started
            started = time.monotonic()

        try:
            now = datetime.now(UTC)
            body = encode_body(event, now)
            timestamp = int(now.timestamp())
            headers = {
                "webhook-id": context.event_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign(
                    context.event_id, timestamp, body, signing_keys(endpoint, now)
                ),
                "content-type": "application/json",
            }
            reply = await self._client.post(endpoint.url, body, headers, on_turn=turn_came)
            # Inside the try: whatever the receiver answered, the POST gets its row.
            outcome = outcome_of_reply(
                reply, retry_after_max=self._retry_after_max, now=datetime.now(UTC)
            )
        except Exception as exc:  # every failure becomes a logged outcome
            outcome = outcome_of_error(exc)
        return outcome, started


PENDING_OUTCOME = Outcome(kind=PENDING)
"""What an attempt's row says until its POST is answered."""


def delivery_row(
    event: WebhookSend, context: Context, outcome: Outcome, duration_ms: int | None
) -> DeliveryRow:
    """The ``webhook_deliveries`` row of one attempt."""
    return DeliveryRow(
        event_id=context.event_id,
        webhook_id=event.webhook_id,
        attempt=context.overall_attempt,
        outcome=outcome.kind,
        http_status=outcome.http_status,
        error_code=outcome.code,
        error_message=outcome.message,
        duration_ms=duration_ms,
        response_excerpt=outcome.excerpt,
        topic=context.topic,
        partition=context.partition,
        offset=context.offset,
    )


@asynccontextmanager
async def open_webhook_handler(
    settings: Settings, /, *, concurrency: int
) -> AsyncIterator[Handler[WebhookSend]]:
    """Open the HTTP pool, endpoint cache and delivery writer; yield the handler.

    ``concurrency`` bounds the POSTs in flight and sizes the pool; the runtime
    runs ``WEBHOOK_OVERLAP`` times as many calls. One per process: the HTTP
    pool is shared by every delivery. Leave it only
    after the runtime has drained (or abandoned) its in-flight calls; on exit
    the writer stores rows still waiting (at most ``consumer_drain_timeout``
    seconds), then the connections and the engine close.
    """
    engine = sync_engine(settings)
    async with AsyncExitStack() as stack:
        stack.callback(engine.dispose)
        client = await stack.enter_async_context(open_client(settings, connections=concurrency))
        deliveries = await stack.enter_async_context(
            DeliveryWriter(
                libpq_url(settings.sqlalchemy_url), drain_timeout=settings.consumer_drain_timeout
            )
        )
        yield WebhookHandler(
            client=client,
            endpoints=EndpointCache(engine, ttl=settings.webhook_config_cache_ttl),
            deliveries=deliveries,
            retry_after_max=settings.retry_after_max,
        )


WEBHOOK_CONCURRENCY = 100
"""POSTs in flight per process by default: they wait on the network."""

WEBHOOK_OVERLAP = 3
"""Messages in flight per POST the job may have out: while one call waits for its log
rows, another POSTs."""

JOB = Job(
    topic=WEBHOOK_SEND,
    open=open_webhook_handler,
    concurrency=WEBHOOK_CONCURRENCY,
    overlap=WEBHOOK_OVERLAP,
)
"""The webhook job, as the runtime registers it."""

"""The webhook handler end to end: real PostgreSQL, real HTTP receivers on 127.0.0.1.

Every receiver checks the signature with the test's own verifier and answers
401 to a bad one, so each successful delivery also proves the signing.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, RowMapping, insert, select

from consumers.job import Context, Handler
from consumers.webhook.job import JOB, AttemptsInFlight, open_webhook_handler
from consumers.webhook.registry import (
    Endpoint,
    add_endpoint,
    disable_endpoint,
    get_endpoint,
    rotate_secret,
)
from consumers.webhook.signing import generate_secret
from schemas.events import WebhookSend
from schemas.tables import webhook_deliveries, webhooks
from streamjobs.errors import FatalError, JobError, RetryableError
from streamjobs.settings import Settings
from tests.conftest import SettingsFactory
from tests.consumers.webhook.receivers import OK, Answer, Received, Receiver, verify


@pytest.fixture
def open_settings(make_settings: SettingsFactory) -> Settings:
    """Settings with the guard off, since the receivers listen on 127.0.0.1."""
    return make_settings(webhook_allow_private_networks=True)


def run(settings: Settings, scenario: Callable[[Handler[WebhookSend]], Awaitable[None]]) -> None:
    """Open the job's handler with ``settings`` and run ``scenario`` with it."""

    async def main() -> None:
        async with open_webhook_handler(settings, concurrency=JOB.concurrency) as handler:
            await scenario(handler)

    asyncio.run(main())


def event_for(webhook_id: uuid.UUID, payload: dict[str, Any] | None = None) -> WebhookSend:
    """A ``webhook.send`` event to ``webhook_id``."""
    return WebhookSend(
        webhook_id=webhook_id, event_type="invoice.paid", payload=payload or {"invoice": 42}
    )


def context(event_id: str, attempt: int = 1) -> Context:
    """The context of ``attempt`` of ``event_id``, as the runtime would pass it."""
    return Context(
        event_id=event_id,
        attempt=attempt,
        max_attempts=3,
        topic="webhook.send",
        partition=2,
        offset=100 + attempt,
    )


async def attempt(
    handler: Handler[WebhookSend], event: WebhookSend, ctx: Context
) -> JobError | None:
    """Call the handler once; the error it raised, or None when it returned."""
    try:
        await handler(event, ctx)
    except JobError as error:
        return error
    return None


def rows(db: Engine, event_id: str) -> list[RowMapping]:
    """The delivery rows of ``event_id``, by attempt."""
    query = (
        select(webhook_deliveries)
        .where(webhook_deliveries.c.event_id == event_id)
        .order_by(webhook_deliveries.c.attempt)
    )
    with db.connect() as connection:
        return list(connection.execute(query).mappings())


@dataclass
class Delivery:
    """What one delivery to a fresh receiver came to."""

    error: JobError | None
    receiver: Receiver
    event_id: str
    endpoint: Endpoint

    def row(self, db: Engine) -> RowMapping:
        """The one delivery row of the event."""
        [row] = rows(db, self.event_id)
        return row


def store_endpoint(db: Engine, url: str) -> Endpoint:
    """An active endpoint for ``url`` written straight into the table.

    The way a host application may write it: ``webhooks add`` refuses numeric
    spellings such as ``127.1`` itself, and the guard must refuse them anyway.
    """
    values = {"url": url, "secret": generate_secret()}
    with db.begin() as connection:
        row = connection.execute(insert(webhooks).values(values).returning(webhooks)).one()
    return Endpoint(**row._mapping)


def deliver(
    settings: Settings,
    db: Engine,
    answer: Answer | Callable[[Received], Answer] = OK,
    *,
    host: str = "127.0.0.1",
    prepare: Callable[[Endpoint], Endpoint | None] = lambda endpoint: endpoint,
) -> Delivery:
    """Register a receiver reached through ``host``, send it one event, and report.

    Args:
        answer: the receiver's answer (to a well-signed request).
        host: how the endpoint URL names the receiver.
        prepare: changes the endpoint before the send; returns it as it now is.
    """
    receiver = Receiver(answer)
    event_id = f"evt-{uuid.uuid4()}"
    results: list[Delivery] = []

    async def scenario(handler: Handler[WebhookSend]) -> None:
        async with receiver:
            endpoint = store_endpoint(db, receiver.url(host=host))
            receiver.secret = (prepare(endpoint) or endpoint).secret
            error = await attempt(handler, event_for(endpoint.id), context(event_id))
            results.append(Delivery(error, receiver, event_id, endpoint))

    run(settings, scenario)
    return results[0]


def test_2xx_is_success_with_one_row(db: Engine, open_settings: Settings) -> None:
    delivery = deliver(open_settings, db, Answer(status=200, body=b"thanks"))

    assert delivery.error is None
    row = delivery.row(db)
    assert (row["outcome"], row["http_status"], row["error_code"]) == ("success", 200, None)
    assert row["response_excerpt"] == "thanks"
    assert row["attempt"] == 1 and row["duration_ms"] >= 0
    assert (row["topic"], row["partition"], row["offset"]) == ("webhook.send", 2, 101)


def test_request_carries_standard_webhooks_headers_and_the_event_body(
    db: Engine, open_settings: Settings
) -> None:
    delivery = deliver(open_settings, db)

    [request] = delivery.receiver.requests
    assert request.method == "POST" and request.path == "/hook"
    assert request.headers["webhook-id"] == delivery.event_id
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 10
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "streamjobs-webhooks/0.1"
    assert verify(delivery.endpoint.secret, request.headers, request.body)
    body = json.loads(request.body)
    assert (body["type"], body["data"]) == ("invoice.paid", {"invoice": 42})
    sent_at = datetime.fromisoformat(body["timestamp"])
    assert sent_at.tzinfo is not None and abs(datetime.now(UTC) - sent_at) < timedelta(seconds=10)


def test_500_is_retryable_and_its_row_keeps_the_status_and_body(
    db: Engine, open_settings: Settings
) -> None:
    delivery = deliver(open_settings, db, Answer(status=500, body=b"boom"))

    error = delivery.error
    assert isinstance(error, RetryableError)
    assert (error.code, error.http_status, error.retry_after) == ("E_HTTP", 500, None)
    assert "boom" not in error.message
    row = delivery.row(db)
    assert (row["outcome"], row["http_status"], row["error_code"]) == ("retryable", 500, "E_HTTP")
    assert row["response_excerpt"] == "boom"


def test_503_with_retry_after_seconds_asks_for_that_delay(
    db: Engine, open_settings: Settings
) -> None:
    error = deliver(open_settings, db, Answer(503, {"Retry-After": "7"})).error

    assert isinstance(error, RetryableError)
    assert (error.http_status, error.retry_after) == (503, 7.0)


def test_retry_after_beyond_the_maximum_is_clamped(
    db: Engine, make_settings: SettingsFactory
) -> None:
    settings = make_settings(webhook_allow_private_networks=True, retry_after_max=60)

    error = deliver(settings, db, Answer(429, {"Retry-After": "86400"})).error

    assert isinstance(error, RetryableError)
    assert error.retry_after == 60.0


@pytest.mark.parametrize("garbage", ["²", "9" * 5000, "Wed, 99 Foo 99999999 99:99:99 GMT"])
def test_a_post_answered_with_a_garbage_retry_after_still_gets_its_row(
    db: Engine, open_settings: Settings, garbage: str
) -> None:
    delivery = deliver(open_settings, db, Answer(503, {"Retry-After": garbage}))

    assert isinstance(delivery.error, RetryableError)
    assert (delivery.error.http_status, delivery.error.retry_after) == (503, None)
    assert (delivery.row(db)["outcome"], delivery.row(db)["http_status"]) == ("retryable", 503)


def test_404_is_fatal_e_http(db: Engine, open_settings: Settings) -> None:
    delivery = deliver(open_settings, db, Answer(status=404))

    assert isinstance(delivery.error, FatalError)
    assert (delivery.error.code, delivery.error.http_status) == ("E_HTTP", 404)
    assert delivery.row(db)["outcome"] == "fatal"


def test_410_is_fatal_and_disables_the_endpoint_with_a_reason(
    db: Engine, open_settings: Settings
) -> None:
    delivery = deliver(open_settings, db, Answer(status=410))

    assert isinstance(delivery.error, FatalError)
    assert (delivery.error.code, delivery.error.http_status) == ("E_HTTP", 410)
    stored = get_endpoint(db, delivery.endpoint.id)
    assert stored is not None and not stored.active and stored.disabled_at is not None
    assert "410" in (stored.disabled_reason or "")
    assert delivery.event_id in (stored.disabled_reason or "")


def test_302_is_fatal_e_redirect_and_the_redirect_target_is_never_contacted(
    db: Engine, open_settings: Settings
) -> None:
    target = Receiver()
    errors: list[JobError | None] = []

    async def scenario(handler: Handler[WebhookSend]) -> None:
        async with target, Receiver(Answer(302, {"Location": target.url()})) as redirecting:
            endpoint = add_endpoint(db, redirecting.url())
            errors.append(await attempt(handler, event_for(endpoint.id), context("evt-302")))

    run(open_settings, scenario)

    [error] = errors
    assert isinstance(error, FatalError)
    assert (error.code, error.http_status) == ("E_REDIRECT", 302)
    assert target.connections == 0


def test_receiver_slower_than_the_timeout_is_retryable_e_timeout(
    db: Engine, make_settings: SettingsFactory
) -> None:
    settings = make_settings(webhook_allow_private_networks=True, webhook_timeout=0.5)
    started = time.monotonic()

    delivery = deliver(settings, db, Answer(delay=5.0))

    assert isinstance(delivery.error, RetryableError) and delivery.error.code == "E_TIMEOUT"
    assert time.monotonic() - started < 4
    row = delivery.row(db)
    assert (row["outcome"], row["error_code"], row["http_status"]) == (
        "retryable",
        "E_TIMEOUT",
        None,
    )


def _failure_without_receiver(settings: Settings, db: Engine, url: str) -> JobError | None:
    endpoint = add_endpoint(db, url)
    errors: list[JobError | None] = []

    async def scenario(handler: Handler[WebhookSend]) -> None:
        errors.append(await attempt(handler, event_for(endpoint.id), context("evt-nobody")))

    run(settings, scenario)
    return errors[0]


def test_connection_refused_is_retryable_e_connect(db: Engine, open_settings: Settings) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]

    error = _failure_without_receiver(open_settings, db, f"http://127.0.0.1:{port}/hook")

    assert isinstance(error, RetryableError) and error.code == "E_CONNECT"


def test_unresolvable_host_is_retryable_e_dns(db: Engine, open_settings: Settings) -> None:
    error = _failure_without_receiver(open_settings, db, "http://no-such-host.invalid/hook")

    assert isinstance(error, RetryableError) and error.code == "E_DNS"


LOOPBACK_SPELLINGS = [
    "2130706433",
    "0177.0.0.1",
    "127.1",
    "0x7f.1",
    "0",
    "127.0.0.1.",
    "[::ffff:7f00:1]",
]
"""Numeric hosts that inet_aton or a browser read as 127.0.0.1 (or 0.0.0.0)."""


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]", *LOOPBACK_SPELLINGS]
)
def test_guard_refuses_a_loopback_target_without_any_connection(
    db: Engine, settings: Settings, host: str
) -> None:
    assert not settings.webhook_allow_private_networks

    delivery = deliver(settings, db, host=host)

    assert isinstance(delivery.error, FatalError)
    assert delivery.error.code == "E_BLOCKED_TARGET"
    assert delivery.receiver.connections == 0
    assert (delivery.row(db)["outcome"], delivery.row(db)["error_code"]) == (
        "fatal",
        "E_BLOCKED_TARGET",
    )


@pytest.mark.parametrize("host", ["10.0.0.1", "169.254.169.254", "[::1]", "[fd00::1]"])
def test_guard_refuses_private_and_metadata_targets_before_connecting(
    db: Engine, settings: Settings, host: str
) -> None:
    started = time.monotonic()
    error = _failure_without_receiver(settings, db, f"http://{host}:8080/hook")
    # A connection attempt to these would wait out the 5 s connect timeout.
    assert time.monotonic() - started < 3
    assert isinstance(error, FatalError) and error.code == "E_BLOCKED_TARGET"


def test_unknown_webhook_is_fatal_and_logged(db: Engine, open_settings: Settings) -> None:
    errors: list[JobError | None] = []

    async def scenario(handler: Handler[WebhookSend]) -> None:
        errors.append(await attempt(handler, event_for(uuid.uuid4()), context("evt-unknown")))

    run(open_settings, scenario)

    assert isinstance(errors[0], FatalError) and errors[0].code == "E_UNKNOWN_WEBHOOK"
    assert rows(db, "evt-unknown")[0]["outcome"] == "fatal"


def test_disabled_webhook_is_fatal_and_nothing_is_sent(db: Engine, open_settings: Settings) -> None:
    delivery = deliver(
        open_settings,
        db,
        prepare=lambda endpoint: disable_endpoint(db, endpoint.id, "customer left"),
    )

    assert isinstance(delivery.error, FatalError)
    assert delivery.error.code == "E_WEBHOOK_DISABLED"
    assert "customer left" in delivery.error.message
    assert delivery.receiver.connections == 0


def _attempts(
    settings: Settings, db: Engine, answers: list[Answer], attempts: list[int]
) -> tuple[str, list[JobError | None]]:
    """Deliver one event as ``attempts`` (numbers), the receiver answering ``answers`` in turn."""
    queue = iter(answers)
    event_id = f"evt-{uuid.uuid4()}"
    errors: list[JobError | None] = []

    async def scenario(handler: Handler[WebhookSend]) -> None:
        async with Receiver(lambda _: next(queue)) as receiver:
            endpoint = add_endpoint(db, receiver.url())
            for number in attempts:
                errors.append(
                    await attempt(handler, event_for(endpoint.id), context(event_id, number))
                )

    run(settings, scenario)
    return event_id, errors


def test_posts_in_flight_never_exceed_the_concurrency_and_every_event_is_posted(
    db: Engine, open_settings: Settings
) -> None:
    async def main() -> tuple[int, int]:
        async with Receiver(Answer(delay=0.1)) as receiver:
            endpoint = add_endpoint(db, receiver.url())
            async with open_webhook_handler(open_settings, concurrency=2) as handler:
                calls = [handler(event_for(endpoint.id), context(f"evt-{n}")) for n in range(7)]
                await asyncio.gather(*calls)
            return receiver.most_waiting, len(receiver.requests)

    assert asyncio.run(main()) == (2, 7)


def test_same_event_and_attempt_handled_twice_writes_one_row(
    db: Engine, open_settings: Settings
) -> None:
    event_id, errors = _attempts(open_settings, db, [OK, OK], [1, 1])

    assert errors == [None, None]
    assert len(rows(db, event_id)) == 1


def _copies_at_once(
    settings: Settings, db: Engine, answer: Answer, *, apart: float
) -> tuple[str, list[JobError | None], int]:
    """Handle two copies of one attempt, the second ``apart`` seconds after the first,
    as the two chains a crash splits an event into can; the errors of both calls,
    and the requests the receiver got."""
    event_id = f"evt-{uuid.uuid4()}"

    async def main() -> tuple[list[JobError | None], int]:
        async with Receiver(answer) as receiver:
            endpoint = add_endpoint(db, receiver.url())
            event, ctx = event_for(endpoint.id), context(event_id, 2)
            async with open_webhook_handler(settings, concurrency=JOB.concurrency) as handler:

                async def copy(after: float) -> JobError | None:
                    await asyncio.sleep(after)
                    return await attempt(handler, event, ctx)

                errors = await asyncio.gather(copy(0.0), copy(apart))
            return list(errors), len(receiver.requests)

    errors, requests = asyncio.run(main())
    return event_id, errors, requests


COPIES_APART = pytest.mark.parametrize(
    "apart", [0.0, 0.1], ids=["begun-together", "begun-during-the-post"]
)
"""The second copy's start: with the first (one batch of pending rows), or while
the first waits for its answer (its row pending)."""


@COPIES_APART
def test_a_copy_of_an_attempt_in_flight_waits_for_it_and_sends_nothing(
    db: Engine, open_settings: Settings, apart: float
) -> None:
    event_id, errors, requests = _copies_at_once(open_settings, db, Answer(delay=0.2), apart=apart)

    assert (errors, requests) == ([None, None], 1)
    assert [(r["attempt"], r["outcome"], r["sends"]) for r in rows(db, event_id)] == [
        (2, "success", 1)
    ]


@COPIES_APART
def test_a_copy_of_an_attempt_in_flight_fails_as_it_did(
    db: Engine, open_settings: Settings, apart: float
) -> None:
    event_id, errors, requests = _copies_at_once(
        open_settings, db, Answer(status=503, delay=0.2), apart=apart
    )

    assert requests == 1
    assert [(type(e), e and e.message) for e in errors] == [
        (RetryableError, "HTTP 503 Service Unavailable")
    ] * 2
    assert [r["sends"] for r in rows(db, event_id)] == [1]


def test_a_copy_cancelled_while_it_waits_leaves_the_attempt_to_the_next() -> None:
    async def main() -> list[bool]:
        attempts, key = AttemptsInFlight(), ("evt-1", uuid.uuid4(), 2)
        await attempts.enter(key)
        cancelled = asyncio.create_task(attempts.enter(key))
        following = asyncio.create_task(attempts.enter(key))
        await asyncio.sleep(0)  # both wait
        cancelled.cancel()
        attempts.leave(key)
        await asyncio.wait_for(following, timeout=1)
        return [cancelled.cancelled(), following.done()]

    assert asyncio.run(main()) == [True, True]


def test_each_attempt_writes_its_own_row_until_delivered(
    db: Engine, open_settings: Settings
) -> None:
    answers = [Answer(status=500), Answer(status=500), Answer(status=200)]

    event_id, errors = _attempts(open_settings, db, answers, [1, 2, 3])

    assert [type(error) for error in errors] == [RetryableError, RetryableError, type(None)]
    assert [(r["attempt"], r["outcome"]) for r in rows(db, event_id)] == [
        (1, "retryable"),
        (2, "retryable"),
        (3, "success"),
    ]


def test_rotated_secret_signs_with_both_secrets_during_the_grace(
    db: Engine, open_settings: Settings
) -> None:
    delivery = deliver(
        open_settings, db, prepare=lambda endpoint: rotate_secret(db, endpoint.id, grace=3600)
    )

    assert delivery.error is None  # the receiver verified against the new secret
    [request] = delivery.receiver.requests
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert verify(delivery.endpoint.secret, request.headers, request.body)


def test_previous_secret_stops_signing_when_its_grace_is_over(
    db: Engine, open_settings: Settings
) -> None:
    delivery = deliver(
        open_settings, db, prepare=lambda endpoint: rotate_secret(db, endpoint.id, grace=0)
    )

    assert delivery.error is None
    [request] = delivery.receiver.requests
    assert len(request.headers["webhook-signature"].split(" ")) == 1
    assert not verify(delivery.endpoint.secret, request.headers, request.body)

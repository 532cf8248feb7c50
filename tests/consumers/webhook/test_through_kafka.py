"""The webhook job run by the consumer runtime: published event to signed POST, rows, DLQ."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, select

from consumers.runtime.runner import Runner
from consumers.webhook.job import JOB
from consumers.webhook.registry import Endpoint, add_endpoint
from producers import Publisher
from producers.dlq import Scan, replay
from schemas import headers
from schemas.events import WebhookSend
from schemas.tables import webhook_deliveries
from schemas.topics import TopicSet
from streamjobs.kafka import create_topics, topic_set
from streamjobs.settings import Settings
from tests.conftest import SettingsFactory
from tests.consumers.webhook.receivers import OK, Answer, Received, Receiver
from tests.kafka_support import Record, read_topic, running, wait_until


@contextlib.contextmanager
def serving(receiver: Receiver) -> Iterator[Receiver]:
    """Run ``receiver`` on a loop in a thread of its own while the block runs."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(receiver.__aenter__(), loop).result()
    try:
        yield receiver
    finally:
        asyncio.run_coroutine_threadsafe(receiver.__aexit__(None, None, None), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


def scripted(*statuses: int) -> Callable[[Received], Answer]:
    """Answers ``statuses`` in turn, then repeats the last."""
    answered: list[int] = []

    def answer(_request: Received) -> Answer:
        status = statuses[min(len(answered), len(statuses) - 1)]
        answered.append(status)
        return Answer(status=status) if status != 200 else OK

    return answer


@pytest.fixture
def webhook_settings(make_settings: SettingsFactory) -> Settings:
    """Short delays, and the guard off: the receivers listen on 127.0.0.1."""
    return make_settings(retry_delays=(0.3, 0.6), webhook_allow_private_networks=True)


@pytest.fixture
def webhook_topics(webhook_settings: Settings) -> TopicSet:
    topics = topic_set(webhook_settings, JOB.topic)
    create_topics(webhook_settings, [topics])
    return topics


def register(db: Engine, receiver: Receiver) -> Endpoint:
    endpoint = add_endpoint(db, receiver.url())
    receiver.secret = endpoint.secret
    return endpoint


def publish(settings: Settings, endpoint: Endpoint, event_id: str) -> None:
    event = WebhookSend(webhook_id=endpoint.id, event_type="invoice.paid", payload={"n": 1})
    Publisher(settings).publish("webhook.send", event, event_id=event_id)


def attempts_logged(db: Engine, event_id: str) -> list[tuple[int, str, int | None]]:
    query = (
        select(
            webhook_deliveries.c.attempt,
            webhook_deliveries.c.outcome,
            webhook_deliveries.c.http_status,
        )
        .where(webhook_deliveries.c.event_id == event_id)
        .order_by(webhook_deliveries.c.attempt)
    )
    with db.connect() as connection:
        return [(row.attempt, row.outcome, row.http_status) for row in connection.execute(query)]


def test_500_500_200_is_delivered_on_attempt_3_with_three_rows_and_one_webhook_id(
    db: Engine, webhook_settings: Settings, webhook_topics: TopicSet
) -> None:
    with serving(Receiver(scripted(500, 500, 200))) as receiver:
        endpoint = register(db, receiver)
        publish(webhook_settings, endpoint, "evt-1")
        with running(Runner([JOB], webhook_settings)):
            wait_until(lambda: len(attempts_logged(db, "evt-1")) == 3)
    assert attempts_logged(db, "evt-1") == [
        (1, "retryable", 500),
        (2, "retryable", 500),
        (3, "success", 200),
    ]
    assert [request.headers["webhook-id"] for request in receiver.requests] == ["evt-1"] * 3
    stamps = [int(request.headers["webhook-timestamp"]) for request in receiver.requests]
    assert stamps == sorted(stamps)


def dead_letter_of(
    db: Engine, settings: Settings, topics: TopicSet, receiver: Receiver, event_id: str
) -> tuple[Record, Endpoint]:
    """Deliver one event to ``receiver`` through the runtime until it reaches the DLQ."""
    with serving(receiver):
        endpoint = register(db, receiver)
        publish(settings, endpoint, event_id)
        with running(Runner([JOB], settings)):
            (dead,) = read_topic(settings, topics.dlq, count=1)
    return dead, endpoint


def test_always_503_lands_in_the_dlq_after_3_attempts(
    db: Engine, webhook_settings: Settings, webhook_topics: TopicSet
) -> None:
    receiver = Receiver(Answer(status=503))
    dead, endpoint = dead_letter_of(db, webhook_settings, webhook_topics, receiver, "evt-2")
    assert [outcome for _, outcome, _ in attempts_logged(db, "evt-2")] == ["retryable"] * 3
    assert dead.headers[headers.ERROR_KIND] == "exhausted"
    assert dead.headers[headers.HTTP_STATUS] == "503"
    assert dead.headers[headers.EVENT_ID] == "evt-2"
    assert endpoint.secret not in str(dead.headers)
    assert len(receiver.requests) == 3


def test_404_lands_in_the_dlq_after_one_attempt(
    db: Engine, webhook_settings: Settings, webhook_topics: TopicSet
) -> None:
    receiver = Receiver(Answer(status=404))
    dead, _ = dead_letter_of(db, webhook_settings, webhook_topics, receiver, "evt-3")
    assert attempts_logged(db, "evt-3") == [(1, "fatal", 404)]
    assert dead.headers[headers.ERROR_KIND] == "fatal"
    assert dead.headers[headers.ATTEMPT] == "1"
    assert len(receiver.requests) == 1


def test_a_replayed_webhook_keeps_its_id_and_numbers_its_attempts_on(
    db: Engine, webhook_settings: Settings, webhook_topics: TopicSet
) -> None:
    answers = scripted(503, 503, 503, 200)
    receiver = Receiver(answers)
    with serving(receiver):
        endpoint = register(db, receiver)
        publish(webhook_settings, endpoint, "evt-4")
        with running(Runner([JOB], webhook_settings)):
            read_topic(webhook_settings, webhook_topics.dlq, count=1)
            with Scan(webhook_settings, webhook_topics.dlq) as scan:
                (letter,) = scan
            replay(Publisher(webhook_settings), letter, webhook_topics.main)
            wait_until(lambda: len(attempts_logged(db, "evt-4")) == 4)
    assert attempts_logged(db, "evt-4") == [
        (1, "retryable", 503),
        (2, "retryable", 503),
        (3, "retryable", 503),
        (4, "success", 200),
    ]
    assert [request.headers["webhook-id"] for request in receiver.requests] == ["evt-4"] * 4

"""Both email jobs run by the consumer runtime: published events to Resend requests, rows, DLQ."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from sqlalchemy import Engine

from consumers.email.batch import JOB as BATCH_JOB
from consumers.email.job import JOB as EMAIL_JOB
from consumers.email.job import open_email_handler
from consumers.job import Job
from consumers.runtime.runner import Runner
from producers import Publisher
from schemas import headers
from schemas.topics import TopicSet
from streamjobs.settings import Settings
from tests.consumers.email.conftest import email, rows
from tests.consumers.email.fake_resend import FakeResend, Fault, serving
from tests.kafka_support import end_offsets, read_topic, running, wait_until

Topics = tuple[TopicSet, TopicSet]


def publish(settings: Settings, topic: str, event: dict[str, object], event_id: str) -> None:
    Publisher(settings).publish(topic, event, event_id=event_id)


def publish_raw(settings: Settings, topics: TopicSet, event: object, event_id: str) -> None:
    """Publish without the producer's validation, as any Kafka client could."""
    value = json.dumps(event).encode()
    Publisher(settings).publish_raw(topics.main, value, headers=[(headers.EVENT_ID, event_id)])


def nothing_in(settings: Settings, *topics: str) -> bool:
    return all(sum(end_offsets(settings, topic)) == 0 for topic in topics)


def keys(fake: FakeResend) -> list[str | None]:
    return [arrival.headers.get("idempotency-key") for arrival in fake.arrivals]


def test_a_single_email_arrives_once_with_its_event_id_as_idempotency_key(
    db: Engine, email_settings: Settings, email_topics: Topics, fake: FakeResend
) -> None:
    publish(email_settings, "email.send", email(1), "mail-1")
    with running(Runner([EMAIL_JOB], email_settings)):
        wait_until(lambda: rows(db, "mail-1") != [])
        # The same event again, as a replay would send it: recorded as sent, so skipped.
        publish(email_settings, "email.send", email(1), "mail-1")
        publish(email_settings, "email.send", email(2), "mail-2")
        wait_until(lambda: rows(db, "mail-2") != [])
    assert keys(fake) == ["mail-1", "mail-2"]
    (arrival, _) = fake.arrivals
    assert arrival.path == "/emails"
    assert arrival.body["from"] == email_settings.email_from
    assert arrival.headers["authorization"] == "Bearer re_test_key"
    assert fake.sent_subjects() == {"email 1": 1, "email 2": 1}
    assert rows(db, "mail-1") == [(0, "sent", 1, None)]


def test_a_batch_of_25_arrives_as_requests_of_10_10_and_5(
    db: Engine, email_settings: Settings, email_topics: Topics, fake: FakeResend
) -> None:
    publish(email_settings, "email.send-batch", {"emails": [email(n) for n in range(25)]}, "b-1")
    with running(Runner([BATCH_JOB], email_settings)):
        wait_until(lambda: len(rows(db, "b-1")) == 3)
    assert [len(arrival.body) for arrival in fake.arrivals] == [10, 10, 5]
    assert keys(fake) == ["b-1:1", "b-1:2", "b-1:3"]
    assert {arrival.headers["x-batch-validation"] for arrival in fake.arrivals} == {"permissive"}
    assert fake.sent_subjects() == {f"email {n}": 1 for n in range(25)}
    assert rows(db, "b-1") == [(1, "sent", 10, None), (2, "sent", 10, None), (3, "sent", 5, None)]


def test_chunk_2_failing_once_resends_only_chunk_2_and_later(
    db: Engine, email_settings: Settings, email_topics: Topics, fake: FakeResend
) -> None:
    fake.faults.append(
        Fault(500, "application_error", matches=lambda a: a.headers["idempotency-key"] == "b-2:2")
    )
    publish(email_settings, "email.send-batch", {"emails": [email(n) for n in range(25)]}, "b-2")
    with running(Runner([BATCH_JOB], email_settings)):
        wait_until(lambda: len([row for row in rows(db, "b-2") if row[1] == "sent"]) == 3)
    assert keys(fake) == ["b-2:1", "b-2:2", "b-2:2", "b-2:3"]
    assert fake.sent_subjects() == {f"email {n}": 1 for n in range(25)}
    outcomes = [(chunk, outcome) for chunk, outcome, _, _ in rows(db, "b-2")]
    assert outcomes == [(1, "sent"), (2, "failed"), (2, "sent"), (3, "sent")]


def test_a_rate_429_waits_its_retry_after_and_spends_no_attempt(
    db: Engine, email_settings: Settings, email_topics: Topics, fake: FakeResend
) -> None:
    fake.faults.append(Fault(429, "rate_limit_exceeded", headers={"retry-after": "2"}))
    publish(email_settings, "email.send", email(1), "mail-429")
    with running(Runner([EMAIL_JOB], email_settings)):
        wait_until(lambda: rows(db, "mail-429") != [])
    first, second = fake.arrivals
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 2.0
    email_topics_send = email_topics[0]
    assert nothing_in(email_settings, *email_topics_send.retries, email_topics_send.dlq)
    assert rows(db, "mail-429") == [(0, "sent", 1, None)]


def test_a_daily_quota_429_pauses_until_midnight_then_sends_with_nothing_dead_lettered(
    db: Engine,
    email_settings: Settings,
    email_topics: Topics,
    fake: FakeResend,
    caplog: pytest.LogCaptureFixture,
) -> None:
    midnight = datetime(2026, 12, 2, tzinfo=UTC)
    first_read: list[float] = []

    def clock() -> datetime:
        """Stands 3 s before a UTC midnight when first read (at the pause), then runs."""
        first_read[:] = first_read or [time.monotonic()]
        return midnight - timedelta(seconds=3 - (time.monotonic() - first_read[0]))

    job = Job(topic=EMAIL_JOB.topic, open=partial(open_email_handler, clock=clock), concurrency=4)
    # One request per second: the first 429 closes the gate before another can start.
    settings = email_settings.model_copy(update={"resend_rate_limit": 1})
    fake.quota = "daily_quota_exceeded"
    for n in range(3):
        publish(email_settings, "email.send", email(n), f"quota-{n}")
    caplog.set_level(logging.INFO, logger="streamjobs.email")
    with running(Runner([job], settings)):
        wait_until(lambda: any(arrival.status == 429 for arrival in fake.arrivals))
        time.sleep(1.5)
        assert len(fake.arrivals) == 1, "a request went out during the pause"
        fake.quota = None
        wait_until(lambda: all(rows(db, f"quota-{n}") for n in range(3)))
    refused, resumed = fake.arrivals[0], fake.arrivals[1]
    assert (refused.status, resumed.status) == (429, 200)
    assert resumed.at - refused.at >= 3.0
    assert fake.sent_subjects() == {f"email {n}": 1 for n in range(3)}
    send = email_topics[0]
    assert nothing_in(email_settings, *send.retries, send.dlq)
    paused = [r for r in caplog.records if r.getMessage().startswith("email sending paused")]
    assert len(paused) == 1
    assert paused[0].levelno == logging.ERROR
    assert [r for r in caplog.records if r.getMessage() == "email sending resumed"]


def test_an_invalid_address_sends_a_single_email_to_the_dlq_after_one_attempt(
    db: Engine, email_settings: Settings, email_topics: Topics, fake: FakeResend
) -> None:
    send, _ = email_topics
    publish_raw(email_settings, send, email(1, to="not-an-address"), "bad-1")
    with running(Runner([EMAIL_JOB], email_settings)):
        (dead,) = read_topic(email_settings, send.dlq, count=1)
    assert dead.headers[headers.ERROR_KIND] == "fatal"
    assert dead.headers[headers.ATTEMPT] == "1"
    assert dead.headers[headers.ERROR_MESSAGE].startswith("invalid EmailSend: to.0: ")
    assert "not-an-address" not in str(dead.headers)
    assert fake.arrivals == []


def test_invalid_emails_of_a_batch_are_rejected_and_visible_while_the_others_are_sent(
    db: Engine, email_settings: Settings, email_topics: Topics, fake: FakeResend
) -> None:
    _, batch = email_topics
    fake.rejected_addresses = {"user7@example.com"}  # well formed, but Resend refuses it
    emails = [email(n) for n in range(12)]
    emails[3] = email(3, to="nobody")
    emails[10] = email(10, attachments=[{"filename": "a.txt", "content": "aGk="}])
    publish_raw(email_settings, batch, {"emails": emails}, "mixed")
    with running(Runner([BATCH_JOB], email_settings)):
        (dead,) = read_topic(email_settings, batch.dlq, count=1)
    assert fake.sent_subjects() == {f"email {n}": 1 for n in range(12) if n not in (3, 7, 10)}
    (first, first_outcome, first_ids, first_error), second = rows(db, "mixed")
    assert (first, first_outcome, first_ids) == (1, "sent", 8)
    assert first_error is not None
    assert first_error.startswith("#3 to")
    assert "#7 Invalid `to` field" in first_error
    assert second[:3] == (2, "sent", 1)
    assert second[3] == "#10 attachments: Resend refuses it in a batch"
    message = dead.headers[headers.ERROR_MESSAGE]
    assert dead.headers[headers.ERROR_KIND] == "fatal"
    assert "#3 to" in message
    assert "#7" in message
    assert "#10 attachments" in message
    assert "user7@example.com" not in message
    assert len(fake.arrivals) == 2


def test_with_rate_limit_5_no_one_second_window_sees_more_than_5_requests(
    db: Engine, email_settings: Settings, email_topics: Topics
) -> None:
    with serving(FakeResend(rate=5)) as with_limit:
        settings = email_settings.model_copy(
            update={"resend_rate_limit": 5, "email_batch_size": 2, "resend_api_url": with_limit.url}
        )
        publish(settings, "email.send-batch", {"emails": [email(n) for n in range(30)]}, "r-1")
        for n in range(30, 40):
            publish(settings, "email.send", email(n), f"r-{n}")
        with running(Runner([EMAIL_JOB, BATCH_JOB], settings)):
            wait_until(lambda: len(with_limit.sent) == 40, timeout=60)
    assert len(with_limit.arrivals) == 25
    assert with_limit.max_in_window(1.0) == 5
    assert with_limit.rate_limited == 0
    span = with_limit.arrivals[-1].at - with_limit.arrivals[0].at
    assert span >= 4.0  # 25 requests at 5 per second

"""Exactly once per email when the batch consumer is SIGKILLed in the middle of an event."""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from producers import Publisher
from schemas.topics import TopicSet
from streamjobs.settings import Settings
from tests.consumer_process import ConsumerProcess
from tests.consumers.email.conftest import email, rows
from tests.consumers.email.fake_resend import FakeResend
from tests.kafka_support import wait_until


@pytest.fixture
def consumer(email_settings: Settings, tmp_path: Path) -> Iterator[ConsumerProcess]:
    child = ConsumerProcess(
        email_settings,
        job="email-batch",
        log=tmp_path / "consumer.stderr",
        env={
            "RESEND_API_URL": email_settings.resend_api_url,
            "RESEND_API_KEY": "re_test_key",
            "RESEND_RATE_LIMIT": str(email_settings.resend_rate_limit),
            "EMAIL_FROM": email_settings.email_from or "",
            "RETRY_DELAYS": "300ms,600ms",
            "KAFKA_COMMIT_INTERVAL": "20ms",
            # A static member takes its partitions back at once after a restart.
            "KAFKA_GROUP_INSTANCE_ID": "email-batch-1",
        },
    )
    yield child
    child.stop()


@pytest.mark.slow
def test_sigkill_in_the_middle_of_a_200_email_batch_sends_every_email_exactly_once(
    db: Engine,
    email_settings: Settings,
    email_topics: tuple[TopicSet, TopicSet],
    fake: FakeResend,
    consumer: ConsumerProcess,
) -> None:
    fake.delay = 0.1  # 20 chunks of about 0.1 s: time to be killed between and during them
    emails = [email(n) for n in range(200)]
    Publisher(email_settings).publish("email.send-batch", {"emails": emails}, event_id="big")
    consumer.start()
    wait_until(lambda: len(fake.sent) >= 50, timeout=60)
    time.sleep(random.uniform(0.0, 0.3))
    consumer.signal(signal.SIGKILL)
    consumer.wait()
    killed_at = len(fake.sent)
    assert killed_at < 200, "the consumer finished before it was killed"
    consumer.start()
    wait_until(lambda: len([row for row in rows(db, "big") if row[1] == "sent"]) == 20, timeout=90)
    consumer.signal(signal.SIGTERM)
    assert consumer.wait() == 0
    assert fake.sent_subjects() == {f"email {n}": 1 for n in range(200)}
    sent_chunks = sorted(chunk for chunk, outcome, _, _ in rows(db, "big") if outcome == "sent")
    assert sent_chunks == list(range(1, 21))

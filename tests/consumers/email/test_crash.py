"""Exactly once per email when the batch consumer is SIGKILLed in the middle of an event."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from producers import Publisher
from schemas.topics import TopicSet
from streamjobs.settings import Settings
from tests.consumers.email.conftest import email, rows
from tests.consumers.email.fake_resend import FakeResend
from tests.kafka_support import wait_until

REPO_ROOT = Path(__file__).parents[3]
"""Where the child process finds the packages."""

CLI = "from streamjobs.cli import main; main()"
"""The ``streamjobs`` command, run from the source tree."""


class Consumer:
    """``streamjobs consume email-batch`` in a child process, on the test's settings."""

    def __init__(self, settings: Settings, log: Path) -> None:
        self._env = os.environ | {
            "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
            "DATABASE_URL": settings.database_url.get_secret_value(),
            "RESEND_API_URL": settings.resend_api_url,
            "RESEND_API_KEY": "re_test_key",
            "RESEND_RATE_LIMIT": str(settings.resend_rate_limit),
            "EMAIL_FROM": settings.email_from or "",
            "RETRY_DELAYS": "300ms,600ms",
            "KAFKA_COMMIT_INTERVAL": "20ms",
            # A static member takes its partitions back at once after a restart.
            "KAFKA_GROUP_INSTANCE_ID": "email-batch-1",
            "PYTHONPATH": str(REPO_ROOT),
        }
        self._log = log
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-c", CLI, "consume", "email-batch"],
            cwd=REPO_ROOT,
            env=self._env,
            stderr=self._log.open("ab"),
        )

    def signal(self, signum: int) -> None:
        assert self._process is not None
        self._process.send_signal(signum)

    def wait(self) -> int:
        assert self._process is not None
        return self._process.wait(60)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()


@pytest.fixture
def consumer(email_settings: Settings, tmp_path: Path) -> Iterator[Consumer]:
    child = Consumer(email_settings, tmp_path / "consumer.stderr")
    yield child
    child.stop()


@pytest.mark.slow
def test_sigkill_in_the_middle_of_a_200_email_batch_sends_every_email_exactly_once(
    db: Engine,
    email_settings: Settings,
    email_topics: tuple[TopicSet, TopicSet],
    fake: FakeResend,
    consumer: Consumer,
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

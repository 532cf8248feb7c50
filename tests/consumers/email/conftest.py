"""Fixtures for the email jobs: a fake Resend, settings pointing at it, the topics."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select

from consumers.email.batch import JOB as BATCH_JOB
from consumers.email.job import JOB as EMAIL_JOB
from schemas.tables import email_deliveries
from schemas.topics import TopicSet
from streamjobs.kafka import create_topics, topic_set
from streamjobs.settings import Settings
from tests.conftest import SettingsFactory
from tests.consumers.email.fake_resend import API_KEY, FakeResend, serving

SENDER = "Acme <noreply@acme.example>"
"""``EMAIL_FROM`` in the tests."""


@pytest.fixture
def fake() -> Iterator[FakeResend]:
    """A fake Resend without a rate limit, serving while the test runs."""
    with serving(FakeResend()) as running:
        yield running


@pytest.fixture
def email_settings(make_settings: SettingsFactory, fake: FakeResend) -> Settings:
    """Settings on the fake: short retry delays, a generous rate limit."""
    return make_settings(
        retry_delays=(0.3, 0.6),
        resend_api_url=fake.url,
        resend_api_key=API_KEY,
        resend_rate_limit=20,
        email_from=SENDER,
    )


@pytest.fixture
def email_topics(email_settings: Settings) -> tuple[TopicSet, TopicSet]:
    """The topics of ``email.send`` and ``email.send-batch``, created."""
    topics = (
        topic_set(email_settings, EMAIL_JOB.topic),
        topic_set(email_settings, BATCH_JOB.topic),
    )
    create_topics(email_settings, list(topics))
    return topics


def email(n: int, **fields: object) -> dict[str, object]:
    """Email number ``n``: its subject names it, so arrivals can be counted."""
    return {"to": f"user{n}@example.com", "subject": f"email {n}", "text": "hello"} | fields


def rows(db: Engine, event_id: str) -> list[tuple[int, str, int, str | None]]:
    """``(chunk, outcome, Resend id count, error)`` of ``event_id``'s rows, in order."""
    table = email_deliveries
    query = (
        select(table.c.chunk, table.c.outcome, table.c.resend_ids, table.c.error)
        .where(table.c.event_id == event_id)
        .order_by(table.c.id)
    )
    with db.connect() as connection:
        return [
            (row.chunk, row.outcome, len(row.resend_ids or ()), row.error)
            for row in connection.execute(query)
        ]

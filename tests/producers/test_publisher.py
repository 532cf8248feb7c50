"""The producer API against the real broker: validation, size limit, helpers, non-blocking mode."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import wait

import pytest

from producers import InvalidEventError, Publisher
from streamjobs.kafka import create_topics
from streamjobs.settings import Settings
from tests.conftest import SettingsFactory
from tests.kafka_support import end_offsets, read_topic

EMAIL = {"to": "ada@example.com", "subject": "Hi", "text": "hello"}
"""A valid ``email.send`` payload."""


@pytest.fixture
def topics(settings: Settings) -> Settings:
    """``settings`` with every registry topic created."""
    create_topics(settings)
    return settings


def test_an_invalid_payload_is_refused_naming_the_field_and_nothing_is_sent(
    topics: Settings,
) -> None:
    with Publisher(topics) as publisher, pytest.raises(InvalidEventError) as refused:
        publisher.publish("webhook.send", {"webhook_id": "nope", "event_type": "a", "payload": {}})
    assert str(refused.value).startswith("invalid webhook.send event: webhook_id: ")
    assert sum(end_offsets(topics, f"{topics.kafka_topic_prefix}webhook.send")) == 0


def test_an_event_over_max_event_bytes_is_refused_with_its_size(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings(max_event_bytes=2048)
    create_topics(settings)
    big = EMAIL | {"text": "x" * 3000}
    with Publisher(settings) as publisher, pytest.raises(InvalidEventError) as refused:
        publisher.send_email(big)
    size = len(json.dumps(big, separators=(",", ":")))
    assert str(refused.value) == (
        f"email.send event is {size:,} bytes, over MAX_EVENT_BYTES (2,048)"
    )
    assert sum(end_offsets(settings, f"{settings.kafka_topic_prefix}email.send")) == 0


def test_send_webhook_keys_by_the_webhook_id_so_one_endpoint_keeps_one_partition(
    topics: Settings,
) -> None:
    webhook_id = uuid.uuid4()
    with Publisher(topics) as publisher:
        landed = [
            publisher.send_webhook(webhook_id, "invoice.paid", {"n": n}, event_id=f"e{n}")
            for n in range(5)
        ]
    assert len({delivered.partition for delivered in landed}) == 1
    records = read_topic(topics, f"{topics.kafka_topic_prefix}webhook.send", count=5)
    assert {record.key for record in records} == {str(webhook_id).encode()}
    assert sorted(record.headers["event-id"] for record in records) == [f"e{n}" for n in range(5)]


def test_send_email_and_send_email_batch_publish_to_their_topics(topics: Settings) -> None:
    with Publisher(topics) as publisher:
        publisher.send_email(EMAIL, event_id="one")
        publisher.send_email_batch([EMAIL, EMAIL | {"to": "bob@example.com"}], event_id="many")
    (single,) = read_topic(topics, f"{topics.kafka_topic_prefix}email.send", count=1)
    (batch,) = read_topic(topics, f"{topics.kafka_topic_prefix}email.send-batch", count=1)
    assert json.loads(single.value or b"") == EMAIL
    assert [e["to"] for e in json.loads(batch.value or b"")["emails"]] == [
        "ada@example.com",
        "bob@example.com",
    ]
    assert (single.headers, batch.headers) == ({"event-id": "one"}, {"event-id": "many"})


def test_publish_nowait_futures_complete_on_their_own_and_flush_leaves_nothing_pending(
    topics: Settings,
) -> None:
    publisher = Publisher(topics)
    futures = [publisher.publish_nowait("email.send", EMAIL) for _ in range(50)]
    done, pending = wait(futures, timeout=30)  # no flush: the background thread confirms
    assert (len(done), len(pending)) == (50, 0)
    assert len({(f.result().partition, f.result().offset) for f in futures}) == 50
    assert publisher.flush() == 0
    publisher.close()

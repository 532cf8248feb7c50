"""What the run detail derives: what started an attempt, when the next is due, where an
event without a producer's id arrived."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.topics import WEBHOOK_SEND, TopicSet
from streamjobs.web.history import next_attempt_due, started_by
from streamjobs.web.payloads import position_of

TOPICS = TopicSet(spec=WEBHOOK_SEND, main="p.webhook.send", group="p.g", delays=(30.0, 300.0))
AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_a_delay_topic_means_a_retry_and_a_later_attempt_on_the_main_topic_a_replay() -> None:
    assert started_by(1, "p.webhook.send") == "first attempt"
    assert started_by(2, "p.webhook.send.retry.1") == "retry"
    assert started_by(3, "p.webhook.send.retry.2") == "retry"
    assert started_by(4, "p.webhook.send") == "replay"


def test_the_next_attempt_is_due_after_the_tier_of_the_topic_read_and_none_after_the_last() -> None:
    assert next_attempt_due("retryable", "p.webhook.send", AT, TOPICS) == AT + timedelta(seconds=30)
    due = next_attempt_due("retryable", "p.webhook.send.retry.1", AT, TOPICS)
    assert due == AT + timedelta(minutes=5)
    assert next_attempt_due("retryable", "p.webhook.send.retry.2", AT, TOPICS) is None
    assert next_attempt_due("fatal", "p.webhook.send", AT, TOPICS) is None
    assert next_attempt_due("success", "p.webhook.send", AT, TOPICS) is None


def test_an_event_id_derived_from_its_topic_names_its_partition_and_offset() -> None:
    assert position_of("p.email.send:2:41", "p.email.send") == (2, 41)
    assert position_of("p.email.send-batch:2:41", "p.email.send") is None
    assert position_of("order-1234", "p.email.send") is None
    assert position_of("p.email.send:2:x", "p.email.send") is None

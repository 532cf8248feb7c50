"""``streamjobs produce``: events from the argument or one per stdin line, ids printed."""

from __future__ import annotations

import json
import uuid

import pytest

from streamjobs.kafka import create_topics
from streamjobs.settings import Settings
from tests.kafka_support import end_offsets, read_topic
from tests.streamjobs.cli.support import streamjobs


def webhook_line(n: int) -> str:
    """A valid ``webhook.send`` event as one JSON line."""
    return json.dumps({"webhook_id": str(uuid.uuid4()), "event_type": "t", "payload": {"n": n}})


@pytest.fixture
def topics(settings: Settings) -> Settings:
    """``settings`` with every registry topic created."""
    create_topics(settings)
    return settings


def test_each_stdin_line_is_one_event_and_each_derived_id_is_printed(topics: Settings) -> None:
    stdin = "\n".join([webhook_line(1), "", webhook_line(2), webhook_line(3)]) + "\n"
    done = streamjobs(topics, "produce", "webhook.send", stdin=stdin)
    assert done.returncode == 0, done.stderr
    main = f"{topics.kafka_topic_prefix}webhook.send"
    records = read_topic(topics, main, count=3)
    printed = done.stdout.splitlines()
    assert sorted(printed) == sorted(f"{r.topic}:{r.partition}:{r.offset}" for r in records)
    assert sorted(json.loads(r.value or b"")["payload"]["n"] for r in records) == [1, 2, 3]


def test_a_bad_line_exits_2_naming_its_line_and_sends_nothing(topics: Settings) -> None:
    stdin = "\n".join([webhook_line(1), webhook_line(2), '{"webhook_id": "x"}', webhook_line(4)])
    done = streamjobs(topics, "produce", "webhook.send", stdin=stdin)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("streamjobs: error: line 3: invalid webhook.send event: ")
    assert sum(end_offsets(topics, f"{topics.kafka_topic_prefix}webhook.send")) == 0


def test_a_line_that_is_not_json_is_named_too(topics: Settings) -> None:
    done = streamjobs(topics, "produce", "webhook.send", stdin=webhook_line(1) + "\n{oops\n")
    assert done.returncode == 2
    assert "line 2: invalid webhook.send event: not JSON" in done.stderr


def test_the_argument_event_prints_the_event_id_given(topics: Settings) -> None:
    done = streamjobs(topics, "produce", "webhook.send", webhook_line(1), "--event-id", "inv-1")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "inv-1\n"

"""Reading and replaying a dead-letter topic: selection, headers, a round trip on the runtime."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from consumers.runtime.runner import Runner
from producers import Publisher
from producers.dlq import DeadLetter, Scan, Selection, parse_instant, replay, replay_headers
from schemas import headers
from schemas.topics import TopicSet
from streamjobs.kafka import create_topics, topic_set
from streamjobs.settings import Settings
from tests.consumers.runtime.probe import PROBE_TOPIC, Journal, probe_job
from tests.kafka_support import produce, read_topic, running, wait_until

NOON_MS = 1_750_000_000_000
"""A failure time for hand-made dead letters."""


def letter(event_id: str = "evt-1", **received: str) -> DeadLetter:
    """A dead letter at ``t.dlq:0:7`` with these text headers (underscores for dashes)."""
    text = {headers.EVENT_ID: event_id} | {
        name.replace("_", "-"): value for name, value in received.items()
    }
    return DeadLetter(
        topic="t.dlq",
        partition=0,
        offset=7,
        key=b"k",
        value=b"{}",
        headers=[(name, value.encode()) for name, value in text.items()],
        received=text,
        event_id=event_id,
    )


@pytest.fixture
def probe_topics(settings: Settings) -> TopicSet:
    """The probe's main, delay and dead-letter topics under the test's prefix."""
    topics = topic_set(settings, PROBE_TOPIC)
    create_topics(settings, [topics])
    return topics


def test_a_selection_keeps_what_meets_every_criterion() -> None:
    fatal = letter("evt-1", x_error_kind="fatal", x_last_failure_at=str(NOON_MS))
    assert Selection().matches(fatal)
    assert Selection(event_ids=frozenset({"evt-0", "evt-1"}), error_kind="fatal").matches(fatal)
    assert not Selection(event_ids=frozenset({"evt-2"})).matches(fatal)
    assert not Selection(error_kind="exhausted").matches(fatal)
    assert Selection(since_ms=NOON_MS, until_ms=NOON_MS).matches(fatal)
    assert not Selection(since_ms=NOON_MS + 1).matches(fatal)
    assert not Selection(until_ms=NOON_MS - 1).matches(fatal)
    assert not Selection(since_ms=0).matches(letter("evt-1")), "no failure time, no match"


def test_a_replay_drops_routing_headers_keeps_the_rest_and_names_its_source() -> None:
    dead = letter(
        "evt-1",
        traceparent="00-abc-01",
        x_attempt="3",
        x_error_kind="exhausted",
        x_original_offset="4",
        x_replayed_from="t.dlq:0:2",
        x_prior_attempts="3",
    )
    assert replay_headers(dead) == [
        ("traceparent", b"00-abc-01"),
        (headers.EVENT_ID, b"evt-1"),
        (headers.REPLAYED_FROM, b"t.dlq:0:7"),
        (headers.PRIOR_ATTEMPTS, b"6"),
    ]


def test_times_are_iso_8601_in_utc_unless_an_offset_says_otherwise_or_durations_ago() -> None:
    noon = datetime(2025, 6, 1, 12, tzinfo=UTC).timestamp()
    assert parse_instant("2025-06-01T12:00:00Z") == noon * 1000
    assert parse_instant("2025-06-01T12:00:00") == noon * 1000
    assert parse_instant("2025-06-01T14:00:00+02:00") == noon * 1000
    assert parse_instant("2025-06-01") == (noon - 12 * 3600) * 1000
    assert parse_instant("2h", now=noon) == (noon - 7200) * 1000
    with pytest.raises(ValueError, match="neither an ISO 8601 time nor a duration"):
        parse_instant("yesterday")


def test_a_scan_of_an_empty_dlq_ends_at_once(settings: Settings, probe_topics: TopicSet) -> None:
    with Scan(settings, probe_topics.dlq) as scan:
        assert list(scan) == []
    assert (scan.read, scan.matched, scan.limited) == (0, 0, False)


def test_a_replayed_dead_letter_is_handled_again_from_attempt_1_with_the_same_event_id(
    settings: Settings, probe_topics: TopicSet
) -> None:
    journal = Journal()
    produce(settings, probe_topics.main, [b'{"id": 1, "fatal": true}'], headers=[("trace", b"t1")])
    produce(settings, probe_topics.main, [b'{"id": 2, "fatal": true}'])
    with running(Runner([probe_job(journal)], settings)):
        read_topic(settings, probe_topics.dlq, count=2)
        with Scan(settings, probe_topics.dlq) as scan:
            (dead,) = [letter for letter in scan if json.loads(letter.value or b"")["id"] == 1]
        replay(Publisher(settings), dead, probe_topics.main)
        wait_until(lambda: len(journal.of(1)) == 2)
        records = read_topic(settings, probe_topics.dlq, count=3)
    (again,) = [record for record in records if headers.REPLAYED_FROM in record.headers]
    first, second = journal.of(1)
    assert dead.event_id == first.event_id == second.event_id != journal.of(2)[0].event_id
    assert (second.attempt, second.topic) == (1, probe_topics.main)
    assert again.value == dead.value
    assert again.headers[headers.REPLAYED_FROM] == dead.source
    assert (again.headers[headers.EVENT_ID], again.headers["trace"]) == (dead.event_id, "t1")
    assert again.headers[headers.ATTEMPT] == "1"

"""Headers a producer got wrong are fatal for their message alone, through the real broker."""

from __future__ import annotations

import json

import pytest
from confluent_kafka import Producer

from consumers.runtime.runner import Runner
from schemas import headers
from schemas.headers import HeaderList
from schemas.topics import TopicSet
from streamjobs.kafka import client_config
from streamjobs.settings import Settings
from tests.consumers.runtime.probe import Journal, probe_job
from tests.kafka_support import produce, read_topic, running, wait_until

POISON_HEADERS: list[tuple[HeaderList, str]] = [
    ([(headers.PRIOR_ATTEMPTS, "²".encode())], "x-prior-attempts header must be a number"),
    ([(headers.PRIOR_ATTEMPTS, b"9" * 5000)], "x-prior-attempts header must be a number"),
    ([(headers.PRIOR_ATTEMPTS, b"40000")], "x-prior-attempts header must be a number"),
    ([(headers.EVENT_ID, b"e" * 4096)], "event-id header is 4096 bytes; the limit is 200"),
    ([(headers.EVENT_ID, b"evt-\xff")], "event-id header is not valid UTF-8 (byte 4)"),
    ([(headers.EVENT_ID, b"evt\x00x")], "control character U+0000 at 3"),
    ([(headers.EVENT_ID, b"evt\r\nx")], "control character U+000D at 3"),
]


@pytest.mark.parametrize(("poison", "reason"), POISON_HEADERS)
def test_a_poison_header_is_dead_lettered_once_and_the_partition_goes_on(
    settings: Settings, probe_topics: TopicSet, poison: HeaderList, reason: str
) -> None:
    journal = Journal()
    produce(settings, probe_topics.main, [json.dumps({"id": 1}).encode()], headers=poison)
    produce(settings, probe_topics.main, [json.dumps({"id": 2}).encode()])
    with running(Runner([probe_job(journal)], settings)):
        wait_until(lambda: journal.ids() == [2])
        (dead,) = read_topic(settings, probe_topics.dlq, count=1)
    assert dead.headers[headers.ERROR_KIND] == "fatal"
    assert reason in dead.headers[headers.ERROR_MESSAGE]
    # The refused id is not carried on: the copy goes by its coordinates.
    assert dead.headers[headers.EVENT_ID].startswith(probe_topics.main + ":")


BROKER_LIMIT = 1_048_588
"""The broker's default ``message.max.bytes``: a record batch larger than this is refused."""


def test_a_value_just_under_the_broker_limit_reaches_the_dlq_as_a_marker(
    settings: Settings, probe_topics: TopicSet
) -> None:
    near_limit = settings.model_copy(update={"max_message_bytes": BROKER_LIMIT - 2000})
    big = b'{"id": 1, "pad": "' + b"x" * (BROKER_LIMIT - 420) + b'"}'
    producer = Producer(client_config(settings) | {"message.max.bytes": 2 * BROKER_LIMIT})
    producer.produce(probe_topics.main, big, headers=[("trace", b"t" * 20)])
    producer.produce(probe_topics.main, json.dumps({"id": 2}).encode())
    assert producer.flush(30) == 0
    journal = Journal()
    with running(Runner([probe_job(journal)], near_limit)):
        wait_until(lambda: journal.ids() == [2])
        (dead,) = read_topic(settings, probe_topics.dlq, count=1)
    assert dead.value == headers.DROPPED_VALUE
    assert dead.headers[headers.VALUE_DROPPED] == str(len(big))
    assert dead.headers["trace"] == "t" * 20
    assert "the limit is" in dead.headers[headers.ERROR_MESSAGE]


def test_producer_headers_too_large_to_carry_are_left_out_and_counted(
    settings: Settings, probe_topics: TopicSet
) -> None:
    bulky: HeaderList = [(f"h{n}", b"v" * 1000) for n in range(40)]
    produce(
        settings, probe_topics.main, [json.dumps({"id": 1, "fatal": True}).encode()], headers=bulky
    )
    with running(Runner([probe_job(Journal())], settings)):
        (dead,) = read_topic(settings, probe_topics.dlq, count=1)
    assert dead.headers[headers.HEADERS_DROPPED] == "40"
    assert not any(name.startswith("h") and name[1:].isdigit() for name in dead.headers)

"""Retries through delay topics and the dead-letter topic, on the real broker."""

from __future__ import annotations

import json

from consumers.runtime.runner import Runner
from schemas import headers
from schemas.topics import TopicSet
from streamjobs.settings import Settings
from tests.consumers.runtime.probe import Journal, probe_job
from tests.kafka_support import produce, read_topic, running, wait_until

DELAYS = (0.5, 1.0)
"""The ``settings`` fixture's retry tiers, in seconds."""

LATENESS = 1.5
"""How late an attempt may start under test load, in seconds."""


def event(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def test_fail_fail_succeed_is_handled_on_attempt_3_never_early(
    settings: Settings, probe_topics: TopicSet
) -> None:
    journal = Journal()
    produce(settings, probe_topics.main, [event(id=1, fail_times=2)])
    with running(Runner([probe_job(journal)], settings)):
        wait_until(lambda: len(journal.of(1)) == 3)
    source = read_topic(settings, probe_topics.main, count=1)[0]
    first, second, third = journal.of(1)
    assert [call.attempt for call in (first, second, third)] == [1, 2, 3]
    assert [call.topic for call in (first, second, third)] == list(probe_topics.consumed)
    assert DELAYS[0] <= second.at - first.at <= DELAYS[0] * 1.2 + LATENESS
    assert DELAYS[1] <= third.at - second.at <= DELAYS[1] * 1.2 + LATENESS
    assert (
        first.event_id
        == second.event_id
        == third.event_id
        == f"{source.topic}:{source.partition}:0"
    )


def test_always_failing_ends_in_the_dlq_with_every_header(
    settings: Settings, probe_topics: TopicSet
) -> None:
    journal = Journal()
    produce(
        settings,
        probe_topics.main,
        [event(id=7, fail_times=99)],
        headers=[("event-id", b"order-7"), ("traceparent", b"00-abc-01")],
        key=b"customer-1",
    )
    with running(Runner([probe_job(journal)], settings)):
        wait_until(lambda: len(journal.of(7)) == 3)
        (dead,) = read_topic(settings, probe_topics.dlq, count=1)
    source = read_topic(settings, probe_topics.main, count=1)[0]
    calls = journal.of(7)
    assert dead.value == event(id=7, fail_times=99)
    assert dead.key == b"customer-1"
    first_failure, last_failure = (
        int(dead.headers[headers.FIRST_FAILURE_AT]),
        int(dead.headers[headers.LAST_FAILURE_AT]),
    )
    assert dead.headers == {
        "traceparent": "00-abc-01",
        headers.EVENT_ID: "order-7",
        headers.ORIGINAL_TOPIC: probe_topics.main,
        headers.ORIGINAL_PARTITION: str(source.partition),
        headers.ORIGINAL_OFFSET: str(source.offset),
        headers.ORIGINAL_TIMESTAMP: str(source.timestamp_ms),
        headers.CONSUMER_GROUP: probe_topics.group,
        headers.ATTEMPT: "3",
        headers.FIRST_FAILURE_AT: str(first_failure),
        headers.LAST_FAILURE_AT: str(last_failure),
        headers.ERROR_KIND: "exhausted",
        headers.ERROR_CLASS: "RetryableError",
        headers.ERROR_MESSAGE: "probe 7 fails attempt 3",
        headers.HTTP_STATUS: "503",
    }
    assert calls[0].at * 1000 <= first_failure + 1 and calls[2].at * 1000 <= last_failure + 1
    assert last_failure - first_failure >= (DELAYS[0] + DELAYS[1]) * 1000
    assert all(call.event_id == "order-7" for call in calls)


def test_a_delay_topic_message_carries_not_before_and_replaced_headers(
    settings: Settings, probe_topics: TopicSet
) -> None:
    journal = Journal()
    produce(settings, probe_topics.main, [event(id=3, fail_times=2)])
    with running(Runner([probe_job(journal)], settings)):
        wait_until(lambda: len(journal.of(3)) == 3)
        (retry_1,) = read_topic(settings, probe_topics.retries[0], count=1)
        (retry_2,) = read_topic(settings, probe_topics.retries[1], count=1)
    assert retry_1.headers[headers.ATTEMPT] == "1"
    assert retry_2.headers[headers.ATTEMPT] == "2"
    assert retry_2.headers[headers.ORIGINAL_TOPIC] == probe_topics.main
    assert retry_2.headers[headers.FIRST_FAILURE_AT] == retry_1.headers[headers.FIRST_FAILURE_AT]
    for record, delay in ((retry_1, DELAYS[0]), (retry_2, DELAYS[1])):
        failed_at = int(record.headers[headers.LAST_FAILURE_AT])
        not_before = int(record.headers[headers.NOT_BEFORE])
        assert delay * 1000 <= not_before - failed_at <= delay * 1200 + 1


def test_retry_after_from_the_handler_delays_the_next_attempt(
    settings: Settings, probe_topics: TopicSet
) -> None:
    journal = Journal()
    produce(settings, probe_topics.main, [event(id=4, fail_times=1, retry_after=2.5)])
    with running(Runner([probe_job(journal)], settings)):
        wait_until(lambda: len(journal.of(4)) == 2)
    first, second = journal.of(4)
    assert 2.5 <= second.at - first.at <= 2.5 + LATENESS


def test_a_fatal_error_goes_to_the_dlq_after_one_attempt(
    settings: Settings, probe_topics: TopicSet
) -> None:
    journal = Journal()
    produce(settings, probe_topics.main, [event(id=5, fatal=True)])
    with running(Runner([probe_job(journal)], settings)):
        (dead,) = read_topic(settings, probe_topics.dlq, count=1)
    assert len(journal.of(5)) == 1
    assert dead.headers[headers.ERROR_KIND] == "fatal"
    assert dead.headers[headers.ATTEMPT] == "1"
    assert dead.headers[headers.ERROR_MESSAGE] == "probe 5 is fatal"


def test_an_unexpected_exception_is_retried_like_a_retryable_error(
    settings: Settings, probe_topics: TopicSet
) -> None:
    journal = Journal()
    produce(settings, probe_topics.main, [event(id=6, crash=True)])
    with running(Runner([probe_job(journal)], settings)):
        (dead,) = read_topic(settings, probe_topics.dlq, count=1)
    assert len(journal.of(6)) == 3
    assert dead.headers[headers.ERROR_CLASS] == "ZeroDivisionError"
    assert dead.headers[headers.ERROR_KIND] == "exhausted"


def test_bad_input_goes_to_the_dlq_once_while_good_events_around_it_are_handled(
    make_settings: object, probe_topics: TopicSet, settings: Settings
) -> None:
    bad = [
        None,
        b"\xff\xfe",
        b"{oops",
        b"[]",
        b'{"id": "x"}',
        b'{"id": 1, "pad": "' + b"x" * 5000 + b'"}',
    ]
    good = [event(id=n) for n in range(100, 112)]
    interleaved: list[bytes | None] = []
    for index, value in enumerate(bad):
        interleaved += [good[2 * index], value, good[2 * index + 1]]
    small = settings.model_copy(update={"max_message_bytes": 4096})
    journal = Journal()
    produce(settings, probe_topics.main, interleaved)
    with running(Runner([probe_job(journal)], small)):
        wait_until(lambda: len(journal.calls) == len(good))
        dead = read_topic(settings, probe_topics.dlq, count=len(bad))
    assert sorted(journal.ids()) == list(range(100, 112))
    # The value over the limit is replaced by a marker: it might not fit the DLQ.
    kept = [v or b"" for v in bad[:-1]] + [headers.DROPPED_VALUE]
    assert sorted(record.value or b"" for record in dead) == sorted(kept)
    assert {record.headers[headers.ERROR_KIND] for record in dead} == {"fatal"}
    reasons = sorted(record.headers[headers.ERROR_MESSAGE] for record in dead)
    assert any("tombstone" in reason for reason in reasons)
    assert any("not valid UTF-8" in reason for reason in reasons)
    assert any("not JSON" in reason for reason in reasons)
    assert any("must be a JSON object, got list" in reason for reason in reasons)
    assert any("id: Input should be a valid integer" in reason for reason in reasons)
    assert any("the limit is 4096" in reason for reason in reasons)


def test_a_long_retry_after_does_not_hold_up_the_retries_behind_it(
    settings: Settings, probe_topics: TopicSet
) -> None:
    journal = Journal()
    slow = event(id=20, fail_times=1, retry_after=6.0)
    quick = event(id=21, fail_times=1)
    produce(settings, probe_topics.main, [slow, quick], spread=1)
    with running(Runner([probe_job(journal)], settings)):
        wait_until(lambda: len(journal.of(20)) == 2 and len(journal.of(21)) == 2)
    quick_first, quick_second = journal.of(21)
    slow_first, slow_second = journal.of(20)
    assert DELAYS[0] <= quick_second.at - quick_first.at <= DELAYS[0] * 1.2 + LATENESS
    assert slow_second.at - slow_first.at >= 6.0
    assert quick_second.at < slow_second.at


def test_with_no_room_to_park_a_partition_pauses_at_its_first_not_due_message(
    settings: Settings, probe_topics: TopicSet
) -> None:
    journal = Journal()
    no_parking = settings.model_copy(update={"consumer_max_parked": 0})
    produce(settings, probe_topics.main, [event(id=n, fail_times=1) for n in (30, 31)], spread=1)
    with running(Runner([probe_job(journal)], no_parking)):
        wait_until(lambda: len(journal.of(30)) == 2 and len(journal.of(31)) == 2)
    for n in (30, 31):
        first, second = journal.of(n)
        assert DELAYS[0] <= second.at - first.at <= DELAYS[0] * 1.2 + LATENESS

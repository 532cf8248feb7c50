"""``streamjobs dlq list|replay`` on a dead-letter topic that the real runtime filled."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
import signal
import subprocess

import pytest

from consumers.job import Job
from consumers.runtime.runner import Runner
from schemas import headers
from schemas.topics import WEBHOOK_SEND, TopicSet, TopicSpec
from streamjobs.kafka import create_topics, topic_set
from streamjobs.settings import Settings
from tests.conftest import SettingsFactory
from tests.consumers.runtime.probe import Journal, ProbeEvent, probe_job
from tests.kafka_support import end_offsets, produce, read_topic, running, wait_until
from tests.streamjobs.cli.support import STREAMJOBS, streamjobs

EVENTS = {
    "evt-1": b'{"id": 1, "fatal": true}',
    "evt-2": b'{"id": 2, "fatal": true}',
    "evt-3": b'{"id": 3, "fail_times": 99}',
}
"""Two fatal events and one that fails every attempt (exhausted, HTTP 503)."""

BINARY_KEY = b"\xffkey"
"""The key of evt-2: not UTF-8."""


def probe_on_webhook_send() -> Job[ProbeEvent]:
    """The probe job in place of the webhook job: the CLI takes registry topics only."""
    topic = TopicSpec(
        name=WEBHOOK_SEND.name, job=WEBHOOK_SEND.job, group=WEBHOOK_SEND.group, model=ProbeEvent
    )
    return dataclasses.replace(probe_job(Journal()), topic=topic)


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    """Test settings with retry delays short enough to exhaust evt-3 quickly."""
    return make_settings(retry_delays=(0.1, 0.1))


@pytest.fixture
def webhook_topics(settings: Settings) -> TopicSet:
    """``webhook.send`` and its DLQ holding the dead letters of ``EVENTS``."""
    topics = topic_set(settings, WEBHOOK_SEND)
    create_topics(settings, [topics])
    for event_id, value in EVENTS.items():
        key = BINARY_KEY if event_id == "evt-2" else None
        produce(settings, topics.main, [value], headers=[("event-id", event_id.encode())], key=key)
    with running(Runner([probe_on_webhook_send()], settings)):
        read_topic(settings, topics.dlq, count=len(EVENTS))
    return topics


def dlq(settings: Settings, *args: str) -> list[str]:
    """The output lines of ``streamjobs dlq ARGS webhook.send``, which must exit 0."""
    done = streamjobs(settings, "dlq", *args, "webhook.send")
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_list_prints_a_line_per_dead_letter_then_a_summary(
    settings: Settings, webhook_topics: TopicSet
) -> None:
    *lines, summary = dlq(settings, "list")
    assert summary == f"listed 3 of 3 dead letters read from {webhook_topics.dlq}"
    (exhausted,) = [line for line in lines if "  evt-3  " in line]
    assert re.fullmatch(
        r"\d+:\d+  evt-3  exhausted  attempt=3  [-\d]{10}T[:.\d]{12}Z  http=503  "
        r"probe 3 fails attempt 3",
        exhausted,
    )
    assert sorted(line.split()[1:3] for line in lines) == [
        ["evt-1", "fatal"],
        ["evt-2", "fatal"],
        ["evt-3", "exhausted"],
    ]


def test_list_json_prints_headers_key_and_value_with_the_summary_on_stderr(
    settings: Settings, webhook_topics: TopicSet
) -> None:
    done = streamjobs(settings, "dlq", "list", "webhook.send", "--json", "--event-id", "evt-2")
    (record,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.stderr == f"listed 1 of 3 dead letters read from {webhook_topics.dlq}\n"
    assert (record["value"], record["value_encoding"]) == (EVENTS["evt-2"].decode(), "utf-8")
    assert (record["key"], record["key_encoding"]) == (
        base64.b64encode(BINARY_KEY).decode(),
        "base64",
    )
    assert record["event_id"] == record["headers"][headers.EVENT_ID] == "evt-2"
    assert record["headers"][headers.ORIGINAL_TOPIC] == webhook_topics.main
    assert record["topic"] == webhook_topics.dlq


def test_filters_select_by_event_id_error_kind_failure_time_and_limit(
    settings: Settings, webhook_topics: TopicSet
) -> None:
    def listed(*filters: str) -> list[str]:
        return sorted(line.split()[1] for line in dlq(settings, "list", *filters)[:-1])

    assert listed("--event-id", "evt-1", "--event-id", "evt-3") == ["evt-1", "evt-3"]
    assert listed("--error-kind", "exhausted", "--since", "1h", "--until", "2999-01-01") == [
        "evt-3"
    ]
    assert listed("--until", "1h") == []
    *limited, summary = dlq(settings, "list", "--limit", "2")
    assert len(limited) == 2
    assert summary.endswith("(stopped at --limit 2)")


def test_replay_dry_run_prints_what_it_would_send_and_sends_nothing(
    settings: Settings, webhook_topics: TopicSet
) -> None:
    before = end_offsets(settings, webhook_topics.main)
    *lines, summary = dlq(settings, "replay", "--dry-run", "--error-kind", "fatal")
    assert end_offsets(settings, webhook_topics.main) == before
    assert sorted(line.split()[3] for line in lines) == ["evt-1", "evt-2"]
    assert all(line.startswith("would replay  ") for line in lines)
    assert summary == (
        f"would move 2 to {webhook_topics.main}, skipped by filter 1, failed 0; "
        f"read 3 dead letters from {webhook_topics.dlq} (dry run: nothing sent)"
    )
    *_, again = dlq(settings, "replay", "--dry-run", "--error-kind", "fatal")
    assert again == summary  # a dry run moves the cursor no more than it moves letters


def test_replay_sends_the_same_bytes_and_event_id_to_the_main_topic_from_attempt_1(
    settings: Settings, webhook_topics: TopicSet
) -> None:
    (source,) = [line.split()[0] for line in dlq(settings, "list", "--event-id", "evt-2")[:-1]]
    *_, summary = dlq(settings, "replay", "--event-id", "evt-2")
    assert summary == (
        f"moved 1 to {webhook_topics.main}, skipped by filter 2, failed 0; "
        f"read 3 dead letters from {webhook_topics.dlq}"
    )
    records = read_topic(settings, webhook_topics.main, count=len(EVENTS) + 1)
    (replayed,) = [record for record in records if headers.REPLAYED_FROM in record.headers]
    assert (replayed.key, replayed.value) == (BINARY_KEY, EVENTS["evt-2"])
    assert replayed.headers == {
        headers.EVENT_ID: "evt-2",
        headers.REPLAYED_FROM: f"{webhook_topics.dlq}:{source}",
        headers.PRIOR_ATTEMPTS: "1",  # a fatal failure ends after one attempt
    }


def test_bad_arguments_exit_2_with_one_line(settings: Settings) -> None:
    for args in (
        ["list", "nope"],
        ["list", "webhook.send", "--since", "yesterday"],
        ["replay", "webhook.send", "--limit", "0"],
    ):
        done = streamjobs(settings, "dlq", *args)
        assert done.returncode == 2, args
        assert done.stderr.count("\n") == 1, done.stderr


def test_a_second_replay_sends_nothing_and_from_start_sends_again(
    settings: Settings, webhook_topics: TopicSet
) -> None:
    *_, first = dlq(settings, "replay", "--error-kind", "fatal")
    assert first.startswith(f"moved 2 to {webhook_topics.main}, skipped by filter 1, failed 0;")
    sent = sum(end_offsets(settings, webhook_topics.main))
    *_, second = dlq(settings, "replay", "--error-kind", "fatal")
    assert second.startswith("moved 0 to ") and "read 0 dead letters" in second
    assert sum(end_offsets(settings, webhook_topics.main)) == sent
    *_, other = dlq(settings, "replay", "--error-class", "RetryableError")
    assert other.startswith("moved 1 to "), "other criteria keep a cursor of their own"
    *_, again = dlq(settings, "replay", "--error-kind", "fatal", "--from-start")
    assert again.startswith("moved 2 to ")
    assert sum(end_offsets(settings, webhook_topics.main)) == sent + 3


def test_a_limited_replay_is_continued_by_the_next_run(
    settings: Settings, webhook_topics: TopicSet
) -> None:
    moved = [dlq(settings, "replay", "--limit", "2")[-1].split()[1] for _ in range(3)]
    assert moved == ["2", "1", "0"]


INTERRUPTED_LETTERS = 30_000
"""Dead letters of the Ctrl-C test: enough that the replay is still running when it comes."""


def test_ctrl_c_stops_a_replay_that_the_next_run_finishes_sending_each_letter_once(
    settings: Settings,
) -> None:
    topics = topic_set(settings, WEBHOOK_SEND)
    create_topics(settings, [topics])
    produce(settings, topics.dlq, [b"{}"] * INTERRUPTED_LETTERS, headers=[("x-attempt", b"3")])
    environment = os.environ | {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
    }
    process = subprocess.Popen(
        [STREAMJOBS, "dlq", "replay", "webhook.send"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until(lambda: sum(end_offsets(settings, topics.main)) > 0)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert out.rstrip().endswith("(interrupted: run again to go on)")
    first = int(out.split()[1])
    assert 0 < first < INTERRUPTED_LETTERS
    assert sum(end_offsets(settings, topics.main)) == first
    *_, rest = dlq(settings, "replay")
    assert rest.startswith(f"moved {INTERRUPTED_LETTERS - first} to ")
    assert sum(end_offsets(settings, topics.main)) == INTERRUPTED_LETTERS

"""At-least-once under SIGKILL, rebalances and SIGTERM, with real consumer processes."""

from __future__ import annotations

import json
import random
import signal
import time
from collections import Counter
from collections.abc import Callable

from schemas.topics import TopicSet
from streamjobs.settings import Settings
from tests.conftest import TEST_PARTITIONS
from tests.consumers.runtime.conftest import ProbeProcess
from tests.kafka_support import committed_offsets, end_offsets, produce, wait_until

ProbeFactory = Callable[..., ProbeProcess]


def events(count: int, *, sleep: float) -> list[bytes]:
    return [json.dumps({"id": n, "sleep": sleep}).encode() for n in range(count)]


def assert_committed_everything(settings: Settings, topics: TopicSet) -> None:
    """The group's committed offsets reach the end of every main partition."""
    assert committed_offsets(settings, topics.group, topics.main) == end_offsets(
        settings, topics.main
    )


def test_sigkill_twice_loses_nothing_and_duplicates_at_most_the_in_flight_limit(
    settings: Settings, probe_topics: TopicSet, probe_process: ProbeFactory
) -> None:
    concurrency = 10
    total = 1000
    produce(settings, probe_topics.main, events(total, sleep=0.05), spread=TEST_PARTITIONS)
    # A static member takes its partitions back at once after a restart,
    # instead of waiting out the killed member's session.
    probe = probe_process(
        CONSUMER_CONCURRENCY=str(concurrency),
        KAFKA_COMMIT_INTERVAL="20ms",
        KAFKA_GROUP_INSTANCE_ID="probe-1",
    )
    probe.start()
    for handled_before_kill in (250, 500):
        wait_until(lambda: len(probe.lines("done")) >= handled_before_kill, timeout=60)  # noqa: B023 - called at once
        time.sleep(random.uniform(0.0, 0.5))
        probe.kill()
        probe.start()
    wait_until(lambda: set(probe.lines("done")) == set(range(total)), timeout=120)
    probe.signal(signal.SIGTERM)
    assert probe.wait() == 0
    handled = Counter(probe.lines("done"))
    duplicates = sum(handled.values()) - total
    assert set(handled) == set(range(total))
    assert duplicates <= 2 * concurrency, f"{duplicates} duplicates after 2 kills"
    assert_committed_everything(settings, probe_topics)


def test_after_sigkill_work_finished_behind_a_slow_message_is_not_redone(
    settings: Settings, probe_topics: TopicSet, probe_process: ProbeFactory
) -> None:
    slow, fast = events(1, sleep=20.0), events(100, sleep=0.0)[1:]
    produce(settings, probe_topics.main, slow + fast, spread=1)
    probe = probe_process(KAFKA_COMMIT_INTERVAL="20ms", KAFKA_GROUP_INSTANCE_ID="probe-1")
    probe.start()
    wait_until(lambda: set(probe.lines("done")) == set(range(1, 100)), timeout=15)
    time.sleep(0.2)  # a few commit intervals
    assert probe.lines("done") and 0 not in probe.lines("done"), "the slow head finished early"
    probe.kill()
    # The position stands at the slow message; the 99 after it ride in the metadata.
    assert committed_offsets(settings, probe_topics.group, probe_topics.main)[0] == 0
    probe.start()
    wait_until(lambda: 0 in probe.lines("done"), timeout=60)
    probe.signal(signal.SIGTERM)
    assert probe.wait() == 0
    assert Counter(probe.lines("done")) == Counter(range(100))
    assert Counter(probe.lines("begin"))[0] == 2
    assert_committed_everything(settings, probe_topics)


def test_two_processes_share_the_partitions_and_one_leaving_loses_nothing(
    settings: Settings, probe_topics: TopicSet, probe_process: ProbeFactory
) -> None:
    total = 1200  # about 12 s of work for one process: time for a second one to join
    produce(settings, probe_topics.main, events(total, sleep=0.05), spread=TEST_PARTITIONS)
    first = probe_process("first", CONSUMER_CONCURRENCY="5").start()
    wait_until(lambda: len(first.lines("done")) >= 50, timeout=60)
    second = probe_process("second", CONSUMER_CONCURRENCY="5").start()
    wait_until(lambda: len(second.lines("done")) >= 50, timeout=60)
    assert len(first.lines("done")) < total
    first.signal(signal.SIGTERM)
    assert first.wait() == 0
    wait_until(
        lambda: set(first.lines("done")) | set(second.lines("done")) == set(range(total)),
        timeout=120,
    )
    second.signal(signal.SIGTERM)
    assert second.wait() == 0
    assert len(set(first.lines("done")) & set(second.lines("done"))) <= 5
    assert_committed_everything(settings, probe_topics)


def test_sigterm_drains_in_flight_work_commits_and_exits_0(
    settings: Settings, probe_topics: TopicSet, probe_process: ProbeFactory
) -> None:
    produce(settings, probe_topics.main, events(5, sleep=2.0))
    probe = probe_process().start()
    wait_until(lambda: len(probe.lines("begin")) == 5, timeout=60)
    probe.signal(signal.SIGTERM)
    assert probe.wait(timeout=30) == 0
    assert sorted(probe.lines("done")) == [0, 1, 2, 3, 4]
    assert_committed_everything(settings, probe_topics)


def test_sigterm_abandons_work_that_outlasts_the_drain_timeout_and_commits_none_of_it(
    settings: Settings, probe_topics: TopicSet, probe_process: ProbeFactory
) -> None:
    produce(settings, probe_topics.main, events(3, sleep=60.0), spread=1)
    probe = probe_process(CONSUMER_DRAIN_TIMEOUT="1s").start()
    wait_until(lambda: len(probe.lines("begin")) == 3, timeout=60)
    stopped_at = time.monotonic()
    probe.signal(signal.SIGTERM)
    assert probe.wait(timeout=20) == 0
    assert time.monotonic() - stopped_at < 10
    assert probe.lines("done") == []
    assert committed_offsets(settings, probe_topics.group, probe_topics.main)[0] == 0


def test_a_message_that_cannot_be_finished_stops_the_process_non_zero_uncommitted(
    settings: Settings, probe_topics: TopicSet, probe_process: ProbeFactory
) -> None:
    escaping = json.dumps({"id": 1, "escape": True}).encode()
    produce(settings, probe_topics.main, [escaping, *events(3, sleep=0.0)], spread=1)
    probe = probe_process().start()
    assert probe.wait(timeout=60) == 1
    assert committed_offsets(settings, probe_topics.group, probe_topics.main)[0] == 0

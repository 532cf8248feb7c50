"""The delivery log through SIGKILLs of a real ``streamjobs consume webhook`` process.

Every POST sent has its row, even when the process dies while the receiver
answers; a redelivered attempt that was already logged is not sent again; and
the two retry chains a crash can split an event into never dead-letter an
event that one of them delivered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from consumers.webhook.job import JOB
from consumers.webhook.registry import Endpoint
from schemas.tables import webhook_deliveries
from schemas.topics import TopicSet
from streamjobs.kafka import create_topics, topic_set
from streamjobs.settings import Settings
from tests.conftest import SettingsFactory
from tests.consumer_process import ConsumerProcess
from tests.consumers.webhook.receivers import OK, Answer, Received, Receiver
from tests.consumers.webhook.test_through_kafka import publish, register, serving
from tests.kafka_support import end_offsets, read_topic, wait_until

COMMIT_INTERVAL = "60s"
"""Long enough that nothing is committed between the first commit and the kill."""


@pytest.fixture
def crash_settings(make_settings: SettingsFactory) -> Settings:
    return make_settings(retry_delays=(1.0, 1.0))


@pytest.fixture
def crash_topics(crash_settings: Settings) -> TopicSet:
    topics = topic_set(crash_settings, JOB.topic)
    create_topics(crash_settings, [topics])
    return topics


@pytest.fixture
def consumer(crash_settings: Settings, tmp_path: Path) -> Iterator[ConsumerProcess]:
    child = ConsumerProcess(
        crash_settings,
        job="webhook",
        log=tmp_path / "consumer.stderr",
        env={
            "RETRY_DELAYS": ",".join(f"{delay}s" for delay in crash_settings.retry_delays),
            "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
            "KAFKA_COMMIT_INTERVAL": COMMIT_INTERVAL,
            # A static member takes its partitions back at once after a restart.
            "KAFKA_GROUP_INSTANCE_ID": "webhook-1",
        },
    )
    yield child
    child.stop()


def rows(db: Engine, event_id: str) -> list[tuple[int, str, int | None, int]]:
    """``(attempt, outcome, http_status, sends)`` of the event's rows, by attempt."""
    log = webhook_deliveries.c
    query = (
        select(log.attempt, log.outcome, log.http_status, log.sends)
        .where(log.event_id == event_id)
        .order_by(log.attempt)
    )
    with db.connect() as connection:
        return [tuple(row) for row in connection.execute(query)]


def ids_received(receiver: Receiver) -> list[str]:
    return [request.headers["webhook-id"] for request in receiver.requests]


def warmed_up(db: Engine, settings: Settings, endpoint: Endpoint, receiver: Receiver) -> None:
    """Deliver one event first: its commit starts the long commit interval."""
    publish(settings, endpoint, "warm-up")
    wait_until(lambda: rows(db, "warm-up") == [(1, "success", 200, 1)], timeout=60)


def answering(script: Callable[[int], Answer]) -> Callable[[Received], Answer]:
    """Answers the n-th request (from 0) with ``script(n)``, warm-up requests with 200."""
    count = 0

    def answer(request: Received) -> Answer:
        nonlocal count
        if request.headers["webhook-id"] == "warm-up":
            return OK
        count += 1
        return script(count - 1)

    return answer


def test_a_post_cut_short_by_a_sigkill_has_its_pending_row_and_the_redo_settles_it(
    db: Engine, crash_settings: Settings, crash_topics: TopicSet, consumer: ConsumerProcess
) -> None:
    def kill_on_first(n: int) -> Answer:
        if n == 0:
            consumer.kill()  # while the consumer waits for this very answer
        return OK

    with serving(Receiver(answering(kill_on_first))) as receiver:
        endpoint = register(db, receiver)
        consumer.start()
        warmed_up(db, crash_settings, endpoint, receiver)
        publish(crash_settings, endpoint, "evt-cut")
        wait_until(lambda: ids_received(receiver).count("evt-cut") == 1, timeout=30)
        assert rows(db, "evt-cut") == [(1, "pending", None, 1)]

        consumer.start()
        wait_until(lambda: rows(db, "evt-cut") == [(1, "success", 200, 2)], timeout=60)
    assert ids_received(receiver).count("evt-cut") == 2


def test_a_redelivered_attempt_that_was_logged_a_success_is_not_sent_again(
    db: Engine, crash_settings: Settings, crash_topics: TopicSet, consumer: ConsumerProcess
) -> None:
    with serving(Receiver(answering(lambda _n: OK))) as receiver:
        endpoint = register(db, receiver)
        consumer.start()
        warmed_up(db, crash_settings, endpoint, receiver)
        publish(crash_settings, endpoint, "evt-done")
        wait_until(lambda: rows(db, "evt-done") == [(1, "success", 200, 1)], timeout=30)
        consumer.kill()  # logged, but its offset is not committed yet

        consumer.start()
        publish(crash_settings, endpoint, "evt-after")
        wait_until(lambda: rows(db, "evt-after") == [(1, "success", 200, 1)], timeout=60)
    assert ids_received(receiver).count("evt-done") == 1
    assert rows(db, "evt-done") == [(1, "success", 200, 1)]


def test_a_chain_split_by_a_sigkill_delivers_once_and_dead_letters_nothing(
    db: Engine, crash_settings: Settings, crash_topics: TopicSet, consumer: ConsumerProcess
) -> None:
    # 503, then one 200, then 503 for ever: a second chain sending its own
    # attempts would fail three times and dead-letter a delivered event.
    def script(n: int) -> Answer:
        return OK if n == 1 else Answer(status=503)

    with serving(Receiver(answering(script))) as receiver:
        endpoint = register(db, receiver)
        consumer.start()
        warmed_up(db, crash_settings, endpoint, receiver)
        publish(crash_settings, endpoint, "evt-split")
        # The retry copy is in the delay topic; the source offset is not committed.
        wait_until(lambda: sum(end_offsets(crash_settings, crash_topics.retries[0])) == 1)
        consumer.kill()

        consumer.start()
        wait_until(lambda: rows(db, "evt-split")[-1:] == [(2, "success", 200, 1)], timeout=60)
        publish(crash_settings, endpoint, "evt-marker")  # after it, the old chains are done
        wait_until(lambda: len(rows(db, "evt-marker")) == 3, timeout=60)
        letter = read_topic(crash_settings, crash_topics.dlq, count=1)[0]
        assert letter.headers["event-id"] == "evt-marker"
    assert ids_received(receiver).count("evt-split") == 2
    assert rows(db, "evt-split") == [(1, "retryable", 503, 1), (2, "success", 200, 1)]
    assert sum(end_offsets(crash_settings, crash_topics.dlq)) == 1

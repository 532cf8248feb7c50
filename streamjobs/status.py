"""What ``streamjobs status`` reports: per job its group and lag, DLQ depth and age, cleanups.

The report is one value (``Status``, a tree of frozen dataclasses) that the
command prints as text or JSON and a job view can render as it likes.

The Kafka side asks the broker through one ``AdminClient`` and joins no
group, so looking never disturbs the consumers. The database side is read
separately and never fails the whole report: an unreachable or unmigrated
database is described in the ``last_cleanup`` field instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]
from psycopg.errors import UndefinedTable
from sqlalchemy import create_engine, select
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from producers.messages import coordinates
from scheduler.slots import next_slot
from schemas.tables import job_runs
from schemas.topics import TopicSet
from streamjobs.errors import StreamjobsError
from streamjobs.kafka import all_topic_sets, client_config
from streamjobs.settings import Settings

KAFKA_TIMEOUT = 10.0
"""Default seconds to wait for the broker before giving up."""

DATABASE_TIMEOUT = 5
"""Seconds to wait for a database connection."""

CLEANUP_JOB = "cleanup"
"""The ``job_runs.job`` value of the cleanup job."""

PEEK_GROUP = "streamjobs.status-peek"
"""Group id of the reader that peeks at the oldest dead letter; it never joins or commits."""

TOPICS_HINT = "run `streamjobs topics create`"
"""What to do about missing topics."""

Partition = tuple[str, int]
"""A topic name and a partition number."""


class KafkaUnavailableError(StreamjobsError):
    """The broker did not answer in time, or refused a request."""


@dataclass(frozen=True)
class TopicLag:
    """Lag of one consumed topic, or its depth for a DLQ.

    Args:
        topic: the full topic name.
        messages: unconsumed messages (lag or depth); None if the topic is missing.
    """

    topic: str
    messages: int | None

    @property
    def missing(self) -> bool:
        """The topic does not exist on the broker."""
        return self.messages is None


@dataclass(frozen=True)
class Member:
    """One member of a consumer group.

    Args:
        client_id: the client id the process gave (librdkafka's ``rdkafka`` by default).
        host: where it connects from, as the broker sees it.
        partitions: its assignment, as ``topic:partition``, sorted.
    """

    client_id: str
    host: str
    partitions: tuple[str, ...]


@dataclass(frozen=True)
class JobStatus:
    """One job of the registry as the broker sees it.

    Args:
        job: the job name, such as ``webhook``.
        group: the prefixed consumer group.
        state: the group state, lower case (``empty``, ``stable``, ``dead``, ...).
        members: the group's active members.
        main: lag of the main topic.
        retries: lag of each delay topic, in order.
        dlq: depth of the dead-letter topic.
        dlq_end: dead letters ever written (sum of high watermarks); grows
            with each new one even when retention shrinks the depth.
        oldest_dead_letter_at: when the oldest dead letter still kept was
            written; None when the DLQ is empty or missing.
    """

    job: str
    group: str
    state: str
    members: tuple[Member, ...]
    main: TopicLag
    retries: tuple[TopicLag, ...]
    dlq: TopicLag
    dlq_end: int = 0
    oldest_dead_letter_at: datetime | None = None

    @property
    def lag(self) -> int:
        """Lag of the main and delay topics together (missing topics count 0)."""
        return (self.main.messages or 0) + (self.retries_lag or 0)

    @property
    def stalled(self) -> bool:
        """It has lag but no member to work it off."""
        return self.lag > 0 and not self.members

    @property
    def retries_lag(self) -> int | None:
        """Summed lag of the delay topics; None if every one is missing."""
        present = [t.messages for t in self.retries if t.messages is not None]
        return sum(present) if present else None

    @property
    def missing(self) -> list[str]:
        """Topics of this job that do not exist yet."""
        return [t.topic for t in (self.main, *self.retries, self.dlq) if t.missing]


@dataclass(frozen=True)
class LastCleanup:
    """The newest cleanup run, or why it is unknown.

    Args:
        state: ``ran``, ``never`` or ``unavailable``.
        scheduled_for: the day the run was for; None unless it ran.
        outcome: the run's outcome (None while it is still running).
        finished_at: when it finished (None while running).
        result: the run's JSON result.
        error: why the database could not say; only when ``unavailable``.
    """

    state: str
    scheduled_for: datetime | None = None
    outcome: str | None = None
    finished_at: datetime | None = None
    result: Any = None
    error: str | None = None


@dataclass(frozen=True)
class Status:
    """Everything ``streamjobs status`` shows.

    Args:
        jobs: one entry per registry job, in registry order.
        last_cleanup: the newest cleanup run.
        taken_at: when the report was taken (UTC).
        next_cleanup: the next daily cleanup slot after ``taken_at``.
    """

    jobs: list[JobStatus]
    last_cleanup: LastCleanup
    taken_at: datetime
    next_cleanup: datetime

    @property
    def missing(self) -> list[str]:
        """Topics of any job that do not exist yet."""
        return [name for job in self.jobs for name in job.missing]


def gather(settings: Settings, *, timeout: float = KAFKA_TIMEOUT) -> Status:
    """The status of every job of the registry and the last cleanup.

    Args:
        settings: brokers, topic prefix and database.
        timeout: seconds each broker request may take (default ``KAFKA_TIMEOUT``).

    Raises:
        KafkaUnavailableError: the broker did not answer within ``timeout``.
    """
    taken_at = datetime.now(UTC)
    jobs = kafka_status(settings, all_topic_sets(settings), timeout=timeout)
    return Status(
        jobs=jobs,
        last_cleanup=last_cleanup(settings),
        taken_at=taken_at,
        next_cleanup=next_slot(taken_at),
    )


def kafka_status(
    settings: Settings, topic_sets: list[TopicSet], *, timeout: float = KAFKA_TIMEOUT
) -> list[JobStatus]:
    """Group members, lag and DLQ depth of each of ``topic_sets``.

    Args:
        settings: brokers and security.
        topic_sets: the jobs to inspect.
        timeout: seconds each broker request may take (default ``KAFKA_TIMEOUT``).

    Raises:
        KafkaUnavailableError: the broker did not answer or refused a request.
    """
    # log_level 0: librdkafka's own connection errors would clutter the one-line failure.
    admin = AdminClient(client_config(settings) | {"log_level": 0})
    try:
        partitions = _partitions(admin, topic_sets, timeout)
        low = _offsets(admin, partitions, OffsetSpec.earliest, timeout)
        high = _offsets(admin, partitions, OffsetSpec.latest, timeout)
        groups = _groups(admin, [t.group for t in topic_sets], timeout)
        oldest = oldest_timestamps(
            settings, {t.dlq for t in topic_sets}, partitions, low, high, timeout=timeout
        )
        return [
            _job_status(t, partitions, low, high, groups[t.group], oldest.get(t.dlq))
            for t in topic_sets
        ]
    except KafkaException as exc:
        raise KafkaUnavailableError(f"cannot read from Kafka: {exc.args[0].str()}") from None


def _partitions(
    admin: AdminClient, topic_sets: list[TopicSet], timeout: float
) -> dict[str, list[int]]:
    """Partition numbers of every existing topic of ``topic_sets``."""
    metadata = admin.list_topics(timeout=timeout).topics
    wanted = {name for t in topic_sets for name in (*t.consumed, t.dlq)}
    return {name: sorted(metadata[name].partitions) for name in wanted if name in metadata}


def _offsets(
    admin: AdminClient,
    partitions: Mapping[str, list[int]],
    spec: Callable[[], OffsetSpec],
    timeout: float,
) -> dict[Partition, int]:
    """The ``spec`` offset (``OffsetSpec.earliest`` or ``.latest``) of every partition."""
    offset = spec()
    request = {TopicPartition(t, p): offset for t, numbers in partitions.items() for p in numbers}
    futures = admin.list_offsets(request, request_timeout=timeout)
    return {(tp.topic, tp.partition): f.result().offset for tp, f in futures.items()}


@dataclass(frozen=True)
class _Group:
    """A consumer group's state, members and committed offsets."""

    state: str
    members: tuple[Member, ...]
    committed: dict[Partition, int]


def _groups(admin: AdminClient, names: list[str], timeout: float) -> dict[str, _Group]:
    """State, members and committed offsets of each group in ``names``."""
    described = admin.describe_consumer_groups(names, request_timeout=timeout)
    # The API takes one group per request; the requests run concurrently.
    committed = {
        name: admin.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(name)], request_timeout=timeout
        )[name]
        for name in names
    }
    groups: dict[str, _Group] = {}
    for name in names:
        description = described[name].result()
        offsets = committed[name].result().topic_partitions or []
        groups[name] = _Group(
            state=description.state.name.lower(),
            members=tuple(_member(m) for m in description.members),
            committed={(tp.topic, tp.partition): tp.offset for tp in offsets if tp.offset >= 0},
        )
    return groups


def _member(description: Any) -> Member:
    assignment = description.assignment.topic_partitions if description.assignment else []
    return Member(
        client_id=description.client_id,
        host=description.host.lstrip("/"),
        partitions=tuple(sorted(f"{tp.topic}:{tp.partition}" for tp in assignment)),
    )


def oldest_timestamps(
    settings: Settings,
    topics: set[str],
    partitions: Mapping[str, list[int]],
    low: Mapping[Partition, int],
    high: Mapping[Partition, int],
    *,
    timeout: float,
) -> dict[str, datetime]:
    """When the first kept message of each of ``topics`` was written (empty topics left out).

    Reads the one message at each non-empty partition's low watermark, with
    no group joined and nothing committed.
    """
    heads = [
        TopicPartition(topic, p, low[(topic, p)])
        for topic in topics
        for p in partitions.get(topic, [])
        if high[(topic, p)] > low[(topic, p)]
    ]
    if not heads:
        return {}
    consumer = Consumer(
        client_config(settings)
        | {"group.id": settings.prefixed(PEEK_GROUP), "enable.auto.commit": False}
    )
    oldest: dict[str, datetime] = {}
    try:
        consumer.assign(heads)
        waiting = {(tp.topic, tp.partition) for tp in heads}
        deadline = time.monotonic() + timeout
        while waiting and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is None or message.error() is not None:
                continue
            topic, partition, _ = coordinates(message)
            if (topic, partition) not in waiting:
                continue
            waiting.discard((topic, partition))
            consumer.pause([TopicPartition(topic, partition)])
            written = datetime.fromtimestamp(message.timestamp()[1] / 1000, UTC)
            oldest[topic] = min(oldest.get(topic, written), written)
    finally:
        consumer.close()
    return oldest


def _job_status(
    topic_set: TopicSet,
    partitions: Mapping[str, list[int]],
    low: Mapping[Partition, int],
    high: Mapping[Partition, int],
    group: _Group,
    oldest_dead_letter_at: datetime | None,
) -> JobStatus:
    def lag(topic: str, committed: Mapping[Partition, int]) -> TopicLag:
        if topic not in partitions:
            return TopicLag(topic, None)
        keys = [(topic, p) for p in partitions[topic]]
        return TopicLag(topic, sum(_partition_lag(low[k], high[k], committed.get(k)) for k in keys))

    return JobStatus(
        job=topic_set.spec.job,
        group=topic_set.group,
        state=group.state,
        members=group.members,
        main=lag(topic_set.main, group.committed),
        retries=tuple(lag(name, group.committed) for name in topic_set.retries),
        dlq=lag(topic_set.dlq, {}),
        dlq_end=sum(high[(topic_set.dlq, p)] for p in partitions.get(topic_set.dlq, [])),
        oldest_dead_letter_at=oldest_dead_letter_at,
    )


def _partition_lag(low: int, high: int, committed: int | None) -> int:
    """Messages between the committed offset (else the low watermark) and the end.

    A committed offset below the low watermark (retention deleted what the
    group never read) counts from the low watermark: those messages are gone.
    """
    start = low if committed is None else max(committed, low)
    return max(high - start, 0)


def last_cleanup(settings: Settings) -> LastCleanup:
    """The newest ``job_runs`` row of the cleanup job, by start time.

    Never raises for a database problem: an unreachable or unmigrated
    database gives ``state="unavailable"`` and a one-line ``error``.
    """
    engine = create_engine(
        settings.sqlalchemy_url,
        poolclass=NullPool,
        connect_args={"connect_timeout": DATABASE_TIMEOUT},
    )
    query = (
        select(job_runs)
        .where(job_runs.c.job == CLEANUP_JOB)
        .order_by(job_runs.c.started_at.desc(), job_runs.c.id.desc())
        .limit(1)
    )
    try:
        with engine.connect() as connection:
            row = connection.execute(query).mappings().first()
    except SQLAlchemyError as exc:
        return LastCleanup("unavailable", error=_database_problem(exc))
    finally:
        engine.dispose()
    if row is None:
        return LastCleanup("never")
    fields = ("scheduled_for", "outcome", "finished_at", "result")
    return LastCleanup("ran", **{name: row[name] for name in fields})


def _database_problem(exc: SQLAlchemyError) -> str:
    """One line on what went wrong: not migrated, unreachable, or the driver's first line."""
    cause = getattr(exc, "orig", None) or exc
    if isinstance(cause, UndefinedTable):
        return "database not migrated; run `streamjobs db upgrade`"
    kind = "unreachable" if isinstance(exc, OperationalError) else "error"
    lines = str(cause).strip().splitlines() or [type(cause).__name__]
    return f"database {kind}: {lines[0]}"

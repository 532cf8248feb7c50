"""Reading and re-driving a dead-letter topic (``streamjobs dlq list`` / ``replay``).

Reading assigns each partition explicitly (no consumer group joins, nothing
is committed) and stops at the high watermark the partition had when reading
began, so it never waits for new messages.

Replaying publishes a dead letter's key and value, bytes unchanged, to the
main topic with the same ``event-id`` and without the runtime's routing
headers, so it starts again at attempt 1; ``x-replayed-from`` names the dead
letter. ``producers.replay`` remembers how far a replay got.

A scan given a cursor group starts each partition at that group's committed
offset instead of the beginning; it still commits nothing itself.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from producers.messages import coordinates, event_id_of, header_count, read_headers
from producers.publisher import Delivered, Publisher
from schemas import headers
from schemas.headers import ErrorKind, HeaderList
from streamjobs.errors import ServiceUnavailable, StreamjobsError
from streamjobs.kafka import check_brokers, command_config, watermark_offsets
from streamjobs.settings import Settings, parse_duration

READ_TIMEOUT = 30.0
"""Seconds a read may go without a message before it fails."""

QUEUED_KBYTES = 8192
"""Kilobytes a reader prefetches at most (librdkafka's default is 64 MiB)."""


class DlqReadError(StreamjobsError):
    """The broker did not deliver a dead-letter topic's messages in time."""


@dataclass(frozen=True, kw_only=True)
class DeadLetter:
    """One message of a dead-letter topic.

    Args:
        topic: the dead-letter topic.
        partition: its partition.
        offset: its offset.
        key: the key, bytes as stored.
        value: the value, bytes as stored.
        headers: every header as stored, in order.
        received: the headers as text; the last value of a name wins.
        event_id: the ``event-id`` header, else derived as the runtime does.
    """

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]
    received: dict[str, str]
    event_id: str

    @classmethod
    def of(cls, message: Message) -> DeadLetter:
        """The dead letter ``message`` holds."""
        where = coordinates(message)
        topic, partition, offset = where
        received = read_headers(message)
        return cls(
            topic=topic,
            partition=partition,
            offset=offset,
            key=message.key(),
            value=message.value(),
            headers=cast("list[tuple[str, bytes | None]]", message.headers() or []),
            received=received,
            event_id=event_id_of(where, received),
        )

    @property
    def source(self) -> str:
        """``<topic>:<partition>:<offset>``, the value of ``x-replayed-from``."""
        return f"{self.topic}:{self.partition}:{self.offset}"

    @property
    def error_kind(self) -> str | None:
        """``x-error-kind``, if present."""
        return self.received.get(headers.ERROR_KIND)

    @property
    def error_class(self) -> str | None:
        """``x-error-class``, if present."""
        return self.received.get(headers.ERROR_CLASS)

    @property
    def key_text(self) -> str | None:
        """The key as text (undecodable bytes replaced), or None without a key."""
        return None if self.key is None else self.key.decode("utf-8", "replace")

    @property
    def last_failure_ms(self) -> int | None:
        """``x-last-failure-at`` in epoch ms, if present and a number."""
        try:
            return int(self.received[headers.LAST_FAILURE_AT])
        except (KeyError, ValueError):
            return None


@dataclass(frozen=True, kw_only=True)
class Selection:
    """Which dead letters a command acts on; an unset criterion matches every one.

    Args:
        event_ids: event ids to keep (default: any).
        keys: message keys to keep, as text (default: any).
        error_classes: ``x-error-class`` values to keep (default: any).
        error_kind: ``retryable``, ``fatal`` or ``exhausted`` (default: any).
        since_ms: keep failures at or after this epoch ms (default: no bound).
        until_ms: keep failures at or before this epoch ms (default: no bound).
        limit: stop after this many matches (default: no limit).
    """

    event_ids: frozenset[str] = frozenset()
    keys: frozenset[str] = frozenset()
    error_classes: frozenset[str] = frozenset()
    error_kind: ErrorKind | None = None
    since_ms: int | None = None
    until_ms: int | None = None
    limit: int | None = None

    def matches(self, letter: DeadLetter) -> bool:
        """Whether ``letter`` meets every criterion; a time bound needs ``x-last-failure-at``."""
        if self.event_ids and letter.event_id not in self.event_ids:
            return False
        if self.keys and letter.key_text not in self.keys:
            return False
        if self.error_classes and letter.error_class not in self.error_classes:
            return False
        if self.error_kind is not None and letter.error_kind != self.error_kind:
            return False
        return self._in_window(letter.last_failure_ms)

    def _in_window(self, at_ms: int | None) -> bool:
        if self.since_ms is None and self.until_ms is None:
            return True
        if at_ms is None:
            return False
        return (self.since_ms is None or at_ms >= self.since_ms) and (
            self.until_ms is None or at_ms <= self.until_ms
        )


class Scan:
    """The dead letters of one topic that a selection keeps, read once, in partition order.

    Use as a context manager; iterate inside it. ``read`` and ``matched`` count
    as it goes; ``limited`` says whether the limit stopped it early; ``total``
    is how many dead letters the scan will read at most, known once it started.

    Args:
        settings: brokers and security.
        topic: the full name of the dead-letter topic.
        selection: what to keep (default: everything).
        timeout: seconds a partition may go without a message before
            ``DlqReadError`` (default ``READ_TIMEOUT``).
        cursor: a consumer group whose committed offsets the scan starts from
            (default: none, read from the beginning).
        from_start: with ``cursor``, ignore its offsets and start at the beginning.

    Raises:
        ServiceUnavailable: no broker answered within ``KAFKA_CONNECT_TIMEOUT``.
    """

    def __init__(
        self,
        settings: Settings,
        topic: str,
        selection: Selection | None = None,
        *,
        timeout: float = READ_TIMEOUT,
        cursor: str | None = None,
        from_start: bool = False,
    ) -> None:
        self.topic = topic
        self.selection = selection or Selection()
        self.read = 0
        self.matched = 0
        self.total = 0
        self.limited = False
        self._timeout = timeout
        self._resume = cursor is not None and not from_start
        self._consumer = Consumer(_reader_config(settings, cursor))
        try:
            check_brokers(settings, self._consumer)
        except ServiceUnavailable:
            self._consumer.close()
            raise

    def __iter__(self) -> Iterator[DeadLetter]:
        return (letter for letter, matched in self.letters() if matched)

    def letters(self) -> Iterator[tuple[DeadLetter, bool]]:
        """Every dead letter read, with whether the selection keeps it; stops at the limit."""
        for message in self._messages():
            self.read += 1
            letter = DeadLetter.of(message)
            matched = self.selection.matches(letter)
            self.matched += matched
            yield letter, matched
            if matched and self.matched == self.selection.limit:
                self.limited = True
                return

    def commit(self, positions: dict[int, int]) -> None:
        """Store ``positions`` (partition: next offset to read) as the cursor group's offsets.

        Raises:
            KafkaException: the broker refused the commit.
        """
        if positions:
            offsets = [TopicPartition(self.topic, p, o) for p, o in sorted(positions.items())]
            self._consumer.commit(offsets=offsets, asynchronous=False)

    def _messages(self) -> Iterator[Message]:
        metadata = self._consumer.list_topics(self.topic, timeout=self._timeout).topics[self.topic]
        if metadata.error is not None:
            raise DlqReadError(f"cannot read {self.topic}: {metadata.error.str()}")
        partitions = [TopicPartition(self.topic, number) for number in sorted(metadata.partitions)]
        ends = [
            watermark_offsets(self._consumer, partition, timeout=self._timeout)
            for partition in partitions
        ]  # all taken before reading, so what arrives meanwhile is left out
        starts = self._starts(partitions, ends)
        self.total = sum(
            max(high - start, 0) for start, (_, high) in zip(starts, ends, strict=True)
        )
        for partition, start, (_, high) in zip(partitions, starts, ends, strict=True):
            yield from self._partition(partition, start, high)

    def _starts(self, partitions: list[TopicPartition], ends: list[tuple[int, int]]) -> list[int]:
        """Where each partition's read begins: the low watermark, or the cursor when later."""
        lows = [low for low, _ in ends]
        if not self._resume:
            return lows
        committed = self._consumer.committed(partitions, timeout=self._timeout)
        # A negative offset means nothing committed yet; retention may have passed the cursor.
        return [max(tp.offset, low) for tp, low in zip(committed, lows, strict=True)]

    def _partition(self, partition: TopicPartition, low: int, high: int) -> Iterator[Message]:
        """``partition``'s messages from offset ``low`` up to, not including, ``high``."""
        if high <= low:
            return
        partition.offset = low
        self._consumer.assign([partition])
        next_offset = low
        while next_offset < high:
            message = self._next(partition)
            if message is None:  # the end came first (a control record at the end)
                return
            next_offset = coordinates(message)[2] + 1
            if next_offset <= high:
                yield message

    def _next(self, partition: TopicPartition) -> Message | None:
        """The partition's next message; None at its end."""
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            message = self._consumer.poll(min(1.0, self._timeout))
            if message is None or message.partition() != partition.partition:
                continue  # nothing yet, or left over from the previous partition
            error = message.error()
            if error is None:
                return message
            if error.code() == KafkaError._PARTITION_EOF:
                return None
            raise KafkaException(error)
        raise DlqReadError(
            f"no message from {partition.topic} partition {partition.partition} "
            f"within {self._timeout:.0f}s"
        )

    def __enter__(self) -> Scan:
        return self

    def __exit__(self, *_: object) -> None:
        self._consumer.close()


def _reader_config(settings: Settings, cursor: str | None) -> dict[str, Any]:
    # librdkafka wants a group id even though an assigning reader never joins it.
    return command_config(settings) | {
        "group.id": cursor or settings.prefixed("streamjobs.dlq-reader"),
        # Bounds what is prefetched, so a DLQ of any size is read in bounded memory.
        "queued.max.messages.kbytes": QUEUED_KBYTES,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": True,
        # A fetch of the previous partition would otherwise hold up the next one.
        "fetch.wait.max.ms": 10,
    }


def replay_headers(letter: DeadLetter) -> HeaderList:
    """The headers a replay of ``letter`` carries.

    Routing headers are dropped (the replay starts at attempt 1), other
    headers kept in order, ``event-id`` kept, ``x-replayed-from`` set, and
    ``x-prior-attempts`` counts every attempt so far, so that per-attempt
    logs (``webhook_deliveries``) number the replay's attempts on.
    """
    replaced = headers.ROUTING | {headers.EVENT_ID, headers.REPLAYED_FROM, headers.PRIOR_ATTEMPTS}
    kept: HeaderList = [(name, value) for name, value in letter.headers if name not in replaced]
    return [
        *kept,
        (headers.EVENT_ID, letter.event_id.encode()),
        (headers.REPLAYED_FROM, letter.source.encode()),
        (headers.PRIOR_ATTEMPTS, str(attempts_so_far(letter.received)).encode()),
    ]


def attempts_so_far(received: dict[str, str]) -> int:
    """Attempts a dead letter has had: before its last replay, plus since."""
    return header_count(received, headers.PRIOR_ATTEMPTS) + header_count(received, headers.ATTEMPT)


def replay(publisher: Publisher, letter: DeadLetter, topic: str) -> Delivered:
    """Publish ``letter`` again to the full topic name ``topic`` and wait for the broker.

    Raises:
        PublishError: the broker did not confirm the write.
    """
    return publisher.publish_raw(
        topic, letter.value, key=letter.key, headers=replay_headers(letter)
    )


def parse_instant(text: str, *, now: float | None = None) -> int:
    """Epoch ms of ``text``: an ISO 8601 time, or a duration such as ``2h`` meaning ago.

    Args:
        text: such as ``2025-01-31T12:00:00Z``, ``2025-01-31`` (UTC when no
            offset is given) or ``90m``.
        now: epoch seconds the duration counts back from (default: the clock).

    Raises:
        ValueError: neither form; the message says what is accepted.
    """
    try:
        return round(((time.time() if now is None else now) - parse_duration(text)) * 1000)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is neither an ISO 8601 time nor a duration such as 2h"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)

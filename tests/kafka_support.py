"""Helpers for tests that talk to the real broker: produce, read back, run consumers."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from confluent_kafka import Consumer, Producer, TopicPartition

from consumers.runtime.runner import Runner
from producers.messages import coordinates, read_headers
from schemas.headers import HeaderList
from streamjobs.kafka import client_config, watermark_offsets
from streamjobs.settings import Settings


@dataclass(frozen=True)
class Record:
    """A message read back from a topic."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]
    timestamp_ms: int


def produce(
    settings: Settings,
    topic: str,
    values: Sequence[bytes | None],
    *,
    headers: HeaderList | None = None,
    key: bytes | None = None,
    spread: int | None = None,
) -> None:
    """Write ``values`` to the full topic name ``topic`` and wait for the broker.

    With ``spread``, message i goes to partition ``i % spread``; else the
    partitioner decides (a whole batch may land on one partition).
    """
    producer = Producer(client_config(settings) | {"linger.ms": 5})
    for index, value in enumerate(values):
        # -1 is librdkafka's "let the partitioner choose".
        partition = -1 if spread is None else index % spread
        producer.produce(topic, value, key, partition, headers=headers)
    remaining = producer.flush(30)
    assert remaining == 0, f"{remaining} test messages unconfirmed"


def read_topic(
    settings: Settings, topic: str, *, count: int, timeout: float = 30.0
) -> list[Record]:
    """Read ``count`` messages of ``topic`` from the beginning, failing after ``timeout``."""
    consumer = Consumer(
        client_config(settings)
        | {
            "group.id": f"reader-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    records: list[Record] = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < count and time.monotonic() < deadline:
            for message in consumer.consume(count - len(records), 0.5):
                assert message.error() is None, message.error()
                topic, partition, offset = coordinates(message)
                records.append(
                    Record(
                        topic=topic,
                        partition=partition,
                        offset=offset,
                        key=message.key(),
                        value=message.value(),
                        headers=read_headers(message),
                        timestamp_ms=message.timestamp()[1],
                    )
                )
    finally:
        consumer.close()
    assert len(records) == count, f"read {len(records)} of {count} messages from {topic}"
    return records


def _partitions(consumer: Consumer, topic: str) -> list[TopicPartition]:
    metadata = consumer.list_topics(topic, timeout=10).topics[topic]
    return [TopicPartition(topic, partition) for partition in sorted(metadata.partitions)]


def committed_offsets(settings: Settings, group: str, topic: str) -> list[int]:
    """``group``'s committed offset of each partition of ``topic``; 0 where none is."""
    consumer = Consumer(client_config(settings) | {"group.id": group})
    try:
        committed = consumer.committed(_partitions(consumer, topic), timeout=10)
        return [max(tp.offset, 0) for tp in committed]  # -1001: nothing committed yet
    finally:
        consumer.close()


def end_offsets(settings: Settings, topic: str) -> list[int]:
    """The high watermark of each partition of ``topic``."""
    consumer = Consumer(client_config(settings) | {"group.id": "end-offsets"})
    try:
        return [
            watermark_offsets(consumer, tp, timeout=10)[1] for tp in _partitions(consumer, topic)
        ]
    finally:
        consumer.close()


@contextlib.contextmanager
def running(runner: Runner) -> Iterator[Runner]:
    """Run ``runner`` in a thread for the duration of the block; it must stop cleanly."""
    status: list[int] = []
    thread = threading.Thread(target=lambda: status.append(runner.run()), name="runner")
    thread.start()
    try:
        yield runner
    finally:
        runner.stop()
        thread.join(60)
    assert not thread.is_alive(), "runner did not stop within 60 s"
    assert status == [0], f"runner exited with {status}"


def wait_until(condition: object, *, timeout: float = 30.0, interval: float = 0.05) -> None:
    """Poll ``condition()`` until it is true; fail after ``timeout`` seconds."""
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")

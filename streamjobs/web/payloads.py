"""A run's payload, read back from the Kafka message its first attempt logged.

The database keeps where each webhook attempt's message sits (topic,
partition, offset), and an event id given by no producer names where the
event first arrived (``position_of``); the payload itself is not stored:
the event stays in Kafka while its topic's retention keeps it. Reading
assigns the one partition (no group joins, nothing is committed). What is
shown has its secrets masked.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from streamjobs.kafka import client_config
from streamjobs.redact import mask_document
from streamjobs.settings import Settings

READ_TIMEOUT = 5.0
"""Seconds to wait for the message before saying it could not be read."""

PEEK_GROUP = "streamjobs.web-peek"
"""Group id of the reader; it never joins or commits."""


@dataclass(frozen=True, kw_only=True)
class Payload:
    """A payload as shown, or why it is not.

    Args:
        text: the masked JSON, indented; None when unavailable.
        problem: why it is not shown (gone with retention, not JSON, ...).
    """

    text: str | None = None
    problem: str | None = None


def position_of(event_id: str, topic: str) -> tuple[int, int] | None:
    """The partition and offset an event id derived from ``topic`` names, else None.

    An event published without an ``event-id`` header is named
    ``<topic>:<partition>:<offset>`` after where it first arrived.
    """
    prefix, _, place = event_id.partition(f"{topic}:")
    partition, _, offset = place.partition(":")
    if prefix or not (partition.isdigit() and offset.isdigit()):
        return None
    return int(partition), int(offset)


def read_payload(
    settings: Settings, topic: str, partition: int, offset: int, *, timeout: float = READ_TIMEOUT
) -> Payload:
    """The value of the message at ``topic``/``partition``/``offset``, secrets masked."""
    consumer = Consumer(
        client_config(settings)
        | {
            "group.id": settings.prefixed(PEEK_GROUP),
            "enable.auto.commit": False,
            "auto.offset.reset": "error",
            "log_level": 0,
        }
    )
    try:
        consumer.assign([TopicPartition(topic, partition, offset)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                return Payload(problem=f"not readable: {error.str()}")
            if message.offset() != offset:
                return Payload(problem="no longer in Kafka (topic retention)")
            return _shown(message.value())
    finally:
        consumer.close()
    return Payload(problem=f"Kafka did not deliver it within {timeout:g}s")


def _shown(value: bytes | None) -> Payload:
    if value is None:
        return Payload(problem="the message has no value")
    try:
        document: Any = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return Payload(problem="the value is not JSON")
    return Payload(text=json.dumps(mask_document(document), indent=2, ensure_ascii=False))

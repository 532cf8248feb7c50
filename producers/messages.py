"""Reading a consumed Kafka message: where it is stored, its headers, its event id.

Shared by DLQ replay and the consumer runtime, so both derive an event id the
same way (imports flow ``schemas`` <- ``producers`` <- ``consumers``).
"""

from __future__ import annotations

from typing import cast

from confluent_kafka import Message

from schemas import headers

MAX_COUNT_DIGITS = 9
"""Most digits a count header (attempts) may have; more is taken as malformed."""


def coordinates(message: Message) -> tuple[str, int, int]:
    """Topic, partition and offset of a consumed message (never None once consumed)."""
    # A quoted type: cast() with a subscripted type builds it anew on every call.
    return cast("tuple[str, int, int]", (message.topic(), message.partition(), message.offset()))


def raw_headers(message: Message) -> list[tuple[str, bytes | None]]:
    """The message's headers as stored: in order, repeated names kept, values as bytes."""
    # A consumed message's headers are always (name, bytes or None) pairs.
    return cast("list[tuple[str, bytes | None]]", message.headers() or [])


def read_headers(message: Message) -> dict[str, str]:
    """The message's headers as text; the last value of a repeated name wins."""
    return {
        name: value.decode("utf-8", "replace") if value is not None else ""
        for name, value in raw_headers(message)
    }


def event_id_of(message: Message, received: dict[str, str]) -> str:
    """The ``event-id`` header, else the coordinates of the first delivery.

    Args:
        message: the consumed message; its coordinates stand in for missing
            ``x-original-*`` headers.
        received: its headers as ``read_headers`` returns them.
    """
    if event_id := received.get(headers.EVENT_ID):
        return event_id
    topic, partition, offset = coordinates(message)
    return ":".join(
        (
            received.get(headers.ORIGINAL_TOPIC, topic),
            received.get(headers.ORIGINAL_PARTITION, str(partition)),
            received.get(headers.ORIGINAL_OFFSET, str(offset)),
        )
    )


def header_count(received: dict[str, str], name: str) -> int:
    """The decimal header ``name`` as a number; 0 when it is absent or malformed.

    Malformed includes digits that are not ASCII (``²``, which ``int`` refuses)
    and more than ``MAX_COUNT_DIGITS`` of them.
    """
    value = received.get(name, "")
    well_formed = value.isascii() and value.isdigit() and len(value) <= MAX_COUNT_DIGITS
    return int(value) if well_formed else 0

"""Reading a consumed Kafka message: where it is stored, its headers, its event id.

Shared by DLQ replay and the consumer runtime, so both derive an event id the
same way (imports flow ``schemas`` <- ``producers`` <- ``consumers``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
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
    """The message's headers as stored: in order, repeated names kept, values as bytes.

    Empty when a header name is not UTF-8 (``checked_headers`` says so).
    """
    try:
        # A consumed message's headers are always (name, bytes or None) pairs.
        return cast("list[tuple[str, bytes | None]]", message.headers() or [])
    except UnicodeDecodeError:
        return []


def checked_headers(message: Message) -> dict[str, str]:
    """The message's headers as ``read_headers`` gives them, once they pass the consumer's checks.

    One read of the headers for both: per message, on the runtime's hot path.

    Raises:
        ValueError: a header name is not UTF-8, or the event id fails
            ``check_event_id``; says which, without echoing the id.
    """
    try:
        stored = message.headers()
    except UnicodeDecodeError as exc:
        raise ValueError(f"a header name is not valid UTF-8 (byte {exc.start})") from None
    if not stored:
        return {}
    # The last value of a repeated name wins, as in read_headers; a consumed
    # message's values are always bytes or None.
    last = cast("dict[str, bytes | None]", dict(stored))
    check_event_id(last.get(headers.EVENT_ID))
    return _as_text(last.items())


def check_event_id(raw: bytes | None) -> None:
    """Refuse an ``event-id`` header value that cannot be a ``webhook-id`` or a row key.

    Not UTF-8 (refused rather than decoded, so two ids never become one),
    longer than ``EVENT_ID_MAX_BYTES``, or holding a control character
    (NUL, CR, LF...). None (no header, or one without a value) passes.

    Raises:
        ValueError: says which, without echoing the id.
    """
    if raw is None:
        return
    if len(raw) > headers.EVENT_ID_MAX_BYTES:
        raise ValueError(
            f"event-id header is {len(raw)} bytes; the limit is {headers.EVENT_ID_MAX_BYTES}"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"event-id header is not valid UTF-8 (byte {exc.start})") from None
    if text.isascii() and text.isprintable():
        return  # the usual id: no control character, and no per-character lookup
    for index, char in enumerate(text):
        if unicodedata.category(char) == "Cc":
            raise ValueError(
                f"event-id header holds control character U+{ord(char):04X} at {index}"
            )


def prior_attempts(received: dict[str, str]) -> int:
    """The ``x-prior-attempts`` header as a number; 0 when absent.

    Raises:
        ValueError: it is not ASCII digits, or over ``PRIOR_ATTEMPTS_MAX``.
    """
    value = received.get(headers.PRIOR_ATTEMPTS)
    if value is None:
        return 0
    limit = headers.PRIOR_ATTEMPTS_MAX
    # ASCII only and length first: int() refuses "²" and 5,000 digits with ValueError.
    if not (value.isascii() and value.isdigit() and len(value) <= len(str(limit))):
        raise ValueError(f"x-prior-attempts header must be a number from 0 to {limit}")
    if int(value) > limit:
        raise ValueError(f"x-prior-attempts header is over {limit}")
    return int(value)


def read_headers(message: Message) -> dict[str, str]:
    """The message's headers as text; the last value of a repeated name wins."""
    return _as_text(raw_headers(message))


def _as_text(pairs: Iterable[tuple[str, bytes | None]]) -> dict[str, str]:
    """Header values decoded as UTF-8 (bad bytes replaced); a header without a value is ""."""
    return {
        name: value.decode("utf-8", "replace") if value is not None else "" for name, value in pairs
    }


def event_id_of(where: tuple[str, int, int], received: dict[str, str]) -> str:
    """The ``event-id`` header, else the coordinates of the first delivery.

    Args:
        where: the message's topic, partition and offset (``coordinates``);
            they stand in for missing ``x-original-*`` headers.
        received: its headers as ``read_headers`` returns them.
    """
    if event_id := received.get(headers.EVENT_ID):
        return event_id
    topic, partition, offset = where
    if not received:  # the usual case of a missing id: a first delivery without headers
        return f"{topic}:{partition}:{offset}"
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

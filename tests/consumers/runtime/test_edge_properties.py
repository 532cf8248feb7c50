"""Whatever headers and values a producer sends, the edge raises only FatalError and the
routing headers stay within their bounds (property-based, with Hypothesis)."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.runtime.inbound import decode_event
from consumers.runtime.processor import check_headers
from consumers.runtime.routing import Failure, RetryPolicy, route
from producers.messages import coordinates, event_id_of, read_headers
from schemas import headers
from schemas.events import WebhookSend
from schemas.topics import WEBHOOK_SEND, TopicSet
from streamjobs.errors import FatalError

HEADER_NAMES = st.sampled_from(
    [headers.EVENT_ID, headers.PRIOR_ATTEMPTS, headers.ATTEMPT, headers.NOT_BEFORE, "trace"]
) | st.text(max_size=20)
HEADER_VALUES = st.none() | st.binary(max_size=300) | st.text(max_size=300).map(str.encode)


class FakeMessage:
    """The read-only face of a consumed message: what the edge code calls."""

    def __init__(self, value: bytes | None, pairs: list[tuple[str, bytes | None]]) -> None:
        self._value = value
        self._pairs = pairs

    def headers(self) -> list[tuple[str, bytes | None]]:
        return self._pairs

    def value(self) -> bytes | None:
        return self._value

    def key(self) -> bytes | None:
        return None

    def topic(self) -> str:
        return "webhook.send"

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return 7

    def timestamp(self) -> tuple[int, int]:
        return (1, 1_700_000_000_000)


TOPICS = TopicSet(spec=WEBHOOK_SEND, main="webhook.send", group="g", delays=(1.0, 2.0))


@settings(max_examples=300, deadline=None)
@given(
    pairs=st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=8),
    value=st.none() | st.binary(max_size=200) | st.text(max_size=200).map(str.encode),
    message_text=st.text(max_size=3000),
)
def test_any_headers_and_value_raise_only_fatal_and_route_within_bounds(
    pairs: list[tuple[str, bytes | None]], value: bytes | None, message_text: str
) -> None:
    message: Any = FakeMessage(value, pairs)
    received = read_headers(message)
    with contextlib.suppress(FatalError):
        checked, _ = check_headers(message)
        assert checked == received  # headers that pass read as they always do
    with contextlib.suppress(FatalError):
        decode_event(value, WebhookSend, max_bytes=1000)
    failure = Failure(kind="fatal", error_class="FatalError", message=message_text)
    onward = route(
        message,
        received,
        failure,
        event_id=event_id_of(coordinates(message), received),
        attempt=1,
        topics=TOPICS,
        policy=RetryPolicy(delays=(1.0, 2.0)),
        now_ms=1,
    )
    routed = dict(onward.headers)
    error_message = routed[headers.ERROR_MESSAGE]
    assert isinstance(error_message, bytes)
    assert len(error_message) <= headers.ERROR_MESSAGE_MAX_BYTES
    assert onward.topic == TOPICS.dlq

"""Where a failed message goes next, and the headers it carries there.

A retryable failure before the last attempt goes to the next delay topic; a
fatal one, or a retryable one on the last attempt (exhausted), goes to the
dead-letter topic. Routing headers are replaced on each hop, never appended;
the ``x-original-*`` headers are set once, on the first hop.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from confluent_kafka import Message

from producers.messages import coordinates, raw_headers
from schemas import headers
from schemas.headers import ErrorKind, HeaderList
from schemas.topics import TopicSet
from streamjobs.errors import FatalError, JobError, RetryableError


@dataclass(frozen=True, kw_only=True, slots=True)
class Failure:
    """One failed attempt.

    Args:
        kind: ``retryable``, ``fatal`` or ``exhausted``.
        error_class: class name of the exception.
        message: what went wrong, for a person.
        http_status: HTTP status behind the failure, if any.
        retry_after: seconds the remote side asked us to wait, if it did.
    """

    kind: ErrorKind
    error_class: str
    message: str
    http_status: int | None = None
    retry_after: float | None = None


def classify(error: BaseException, *, attempt: int, max_attempts: int) -> Failure:
    """The failure ``error`` stands for on attempt ``attempt`` of ``max_attempts``.

    An exception that is not a ``JobError`` is a bug or an outage we did not
    foresee; it counts as retryable so that a fix can still save the message.
    """
    fatal = isinstance(error, FatalError)
    kind: ErrorKind = "fatal" if fatal else "retryable"
    if not fatal and attempt >= max_attempts:
        kind = "exhausted"
    message = error.message if isinstance(error, JobError) else str(error) or repr(error)
    return Failure(
        kind=kind,
        error_class=type(error).__name__,
        message=message,
        http_status=error.http_status if isinstance(error, JobError) else None,
        retry_after=error.retry_after if isinstance(error, RetryableError) else None,
    )


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """When the next attempt may start.

    Args:
        delays: seconds before attempt 2, 3, ... (from the topic set).
        jitter: up to this fraction is added to a delay (default 0.2); never subtracted.
        retry_after_max: the longest ``Retry-After`` honoured, in seconds.
    """

    delays: tuple[float, ...]
    jitter: float = 0.2
    retry_after_max: float = 3600.0

    def not_before_ms(self, *, failed_attempt: int, retry_after: float | None, now_ms: int) -> int:
        """Epoch ms before which the attempt after ``failed_attempt`` must not start."""
        delay = self.delays[failed_attempt - 1] * (1 + random.uniform(0, self.jitter))
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.retry_after_max))
        return now_ms + math.ceil(delay * 1000)


@dataclass(frozen=True, kw_only=True, slots=True)
class Route:
    """A failed message's next topic and its headers."""

    topic: str
    headers: HeaderList


def route(
    message: Message,
    received: dict[str, str],
    failure: Failure,
    *,
    event_id: str,
    attempt: int,
    topics: TopicSet,
    policy: RetryPolicy,
    now_ms: int,
) -> Route:
    """The next topic of a message that failed attempt ``attempt``, with its headers."""
    # Headers the runtime does not own travel as they came: bytes, order, repeats.
    carried: HeaderList = [
        (name, value)
        for name, value in raw_headers(message)
        if name not in headers.ROUTING and name != headers.EVENT_ID
    ]
    routing: dict[str, str] = {}
    if sum(len(name) + len(value or b"") for name, value in carried) > (
        headers.CARRIED_HEADERS_MAX_BYTES
    ):
        # Bounded so the copy always fits the next topic.
        routing[headers.HEADERS_DROPPED] = str(len(carried))
        carried = []
    topic, partition, offset = coordinates(message)
    routing |= {
        headers.EVENT_ID: event_id,
        headers.ORIGINAL_TOPIC: received.get(headers.ORIGINAL_TOPIC, topic),
        headers.ORIGINAL_PARTITION: received.get(headers.ORIGINAL_PARTITION, str(partition)),
        headers.ORIGINAL_OFFSET: received.get(headers.ORIGINAL_OFFSET, str(offset)),
        headers.ORIGINAL_TIMESTAMP: received.get(
            headers.ORIGINAL_TIMESTAMP, str(message.timestamp()[1])
        ),
        headers.CONSUMER_GROUP: topics.group,
        headers.ATTEMPT: str(attempt),
        headers.FIRST_FAILURE_AT: received.get(headers.FIRST_FAILURE_AT, str(now_ms)),
        headers.LAST_FAILURE_AT: str(now_ms),
        headers.ERROR_KIND: failure.kind,
        headers.ERROR_CLASS: failure.error_class,
        headers.ERROR_MESSAGE: truncate_utf8(failure.message, headers.ERROR_MESSAGE_MAX_BYTES),
    }
    if failure.http_status is not None:
        routing[headers.HTTP_STATUS] = str(failure.http_status)
    if failure.kind == "retryable":
        next_topic = topics.retry_topic(attempt)
        routing[headers.NOT_BEFORE] = str(
            policy.not_before_ms(
                failed_attempt=attempt, retry_after=failure.retry_after, now_ms=now_ms
            )
        )
    else:
        next_topic = topics.dlq

    return Route(
        topic=next_topic,
        headers=carried + [(name, value.encode()) for name, value in routing.items()],
    )


def truncate_utf8(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` of UTF-8, never inside a character."""
    encoded = text.encode()
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode("utf-8", "ignore")

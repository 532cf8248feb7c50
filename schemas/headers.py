"""Kafka header names of the contract (see DESIGN.md, "Messages").

Values are UTF-8 strings; numbers are written in decimal.
"""

from typing import Literal, get_args

ErrorKind = Literal["retryable", "fatal", "exhausted"]
"""Why a message left its attempt: ``retryable`` (to a delay topic), ``fatal``
(to the DLQ at once) or ``exhausted`` (retryable on the last attempt: to the DLQ)."""

ERROR_KINDS: tuple[ErrorKind, ...] = get_args(ErrorKind)
"""Every ``ErrorKind``, in the order a failure can escalate."""

EVENT_ID = "event-id"
"""Idempotency key; optional on the first delivery, then kept through every hop."""

ORIGINAL_TOPIC = "x-original-topic"
"""Topic where the event first arrived; set once."""

ORIGINAL_PARTITION = "x-original-partition"
"""Partition where the event first arrived; set once."""

ORIGINAL_OFFSET = "x-original-offset"
"""Offset where the event first arrived; set once."""

ORIGINAL_TIMESTAMP = "x-original-timestamp"
"""Broker timestamp (epoch ms) of the first arrival; set once."""

CONSUMER_GROUP = "x-consumer-group"
"""Consumer group that failed the event."""

ATTEMPT = "x-attempt"
"""Attempts already made."""

NOT_BEFORE = "x-not-before"
"""Epoch ms before which the next attempt must not start."""

FIRST_FAILURE_AT = "x-first-failure-at"
"""Epoch ms of the first failure."""

LAST_FAILURE_AT = "x-last-failure-at"
"""Epoch ms of the latest failure."""

ERROR_KIND = "x-error-kind"
"""``retryable``, ``fatal`` or ``exhausted``."""

ERROR_CLASS = "x-error-class"
"""Class name of the latest error."""

ERROR_MESSAGE = "x-error-message"
"""Message of the latest error, at most ``ERROR_MESSAGE_MAX_BYTES``."""

HTTP_STATUS = "x-http-status"
"""HTTP status that caused the failure, when there was one."""

REPLAYED_FROM = "x-replayed-from"
"""Where a replayed event sat in the DLQ: ``<dlq topic>:<partition>:<offset>``."""

PRIOR_ATTEMPTS = "x-prior-attempts"
"""Attempts made before the latest replay; a replay's attempts are numbered on from it."""

VALUE_DROPPED = "x-value-dropped"
"""Size in bytes of the original value when the copy carries ``DROPPED_VALUE`` instead."""

HEADERS_DROPPED = "x-headers-dropped"
"""How many of the producer's headers the copy left out because they were too large."""

HeaderList = list[tuple[str, str | bytes | None]]
"""Headers as confluent-kafka takes them for a write."""

ERROR_MESSAGE_MAX_BYTES = 1024
"""Longest ``x-error-message`` value in bytes."""

EVENT_ID_MAX_BYTES = 200
"""Longest ``event-id`` in UTF-8 bytes; a longer one is fatal for its message."""

PRIOR_ATTEMPTS_MAX = 1000
"""Largest ``x-prior-attempts`` taken; beyond it (or malformed) the message is fatal."""

DROPPED_VALUE = b"(value dropped: larger than MAX_MESSAGE_BYTES; see x-value-dropped)"
"""The value of a DLQ copy whose original value was over the size limit."""

CARRIED_HEADERS_MAX_BYTES = 16 * 1024
"""Most bytes of the producer's own headers a copy carries onward; beyond, none are."""

ROUTING = frozenset(
    {
        ORIGINAL_TOPIC,
        ORIGINAL_PARTITION,
        ORIGINAL_OFFSET,
        ORIGINAL_TIMESTAMP,
        CONSUMER_GROUP,
        ATTEMPT,
        NOT_BEFORE,
        FIRST_FAILURE_AT,
        LAST_FAILURE_AT,
        ERROR_KIND,
        ERROR_CLASS,
        ERROR_MESSAGE,
        HTTP_STATUS,
        VALUE_DROPPED,
        HEADERS_DROPPED,
    }
)
"""Headers the runtime owns; they are replaced on each hop, never appended."""

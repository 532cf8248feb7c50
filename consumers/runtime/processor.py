"""One message's way through a job: decode, handle, and route a failure.

Runs on the worker's asyncio loop. A message is finished when ``process``
returns: the handler succeeded, or the broker confirmed its copy in a delay
topic or the dead-letter topic.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from confluent_kafka import KafkaException, Message
from pydantic import BaseModel

from consumers.job import Context, Handler
from consumers.runtime.inbound import decode_event, now_ms
from consumers.runtime.offsets import PartitionKey
from consumers.runtime.producer import ConfirmingProducer
from consumers.runtime.routing import Failure, RetryPolicy, classify, route
from producers.messages import checked_headers, event_id_of, prior_attempts, read_headers
from schemas import headers
from schemas.topics import TopicSet
from streamjobs.errors import FatalError, JobError
from streamjobs.sentry import capture_failure

logger = logging.getLogger("streamjobs.consumer")

REROUTE_BACKOFF_MAX = 30.0
"""Longest pause, in seconds, between tries to write a failed message onward."""

new_context = cast(
    "Callable[[tuple[str, int, int, str, int, int, int]], Context]",
    functools.partial(tuple.__new__, Context),
)
"""Builds a ``Context`` from all its fields in C, a third of the cost of calling
``Context``, whose ``__new__`` is Python: per message it is a measurable share."""

BlockedCallback = Callable[[PartitionKey, bool], None]
"""Told ``(partition, True)`` when writing onward fails, ``(partition, False)`` once it works."""


@dataclass(frozen=True, kw_only=True)
class ProcessorOptions:
    """Per-job settings of message processing.

    Args:
        max_message_bytes: larger values go to the DLQ unread.
        policy: when the next attempt may start.
    """

    max_message_bytes: int
    policy: RetryPolicy


class Processor:
    """Takes messages of one job from delivery to finished.

    Args:
        topics: the job's main, delay and dead-letter topics.
        model: the payload model.
        handler: the job's handler.
        producer: writes failed messages onward.
        options: size limit and retry policy.
        on_blocked: told when writing onward fails and when it recovers.
    """

    def __init__(
        self,
        *,
        topics: TopicSet,
        model: type[BaseModel],
        handler: Handler[Any],
        producer: ConfirmingProducer,
        options: ProcessorOptions,
        on_blocked: BlockedCallback,
    ) -> None:
        self._topics = topics
        self._model = model
        self._handler = handler
        self._producer = producer
        self._options = options
        self._on_blocked = on_blocked
        # A delay topic's position fixes the attempt number, whatever its headers say.
        self._attempt_by_topic = {name: n for n, name in enumerate(topics.consumed, start=1)}
        self._max_attempts = topics.attempts

    async def process(self, message: Message, where: tuple[str, int, int]) -> None:
        """Handle ``message``; on failure, write it onward until the broker confirms.

        Args:
            message: the consumed message.
            where: its topic, partition and offset (``coordinates``), read once by the caller.
        """
        topic, partition, offset = where
        attempt = self._attempt_by_topic[topic]
        try:
            received, prior = check_headers(message)
        except FatalError as error:
            received = read_headers(message)
            # The refused id is not carried on: a replay must not make it valid.
            without_id = {k: v for k, v in received.items() if k != headers.EVENT_ID}
            event_id = event_id_of(where, without_id)
            context = new_context(
                (event_id, attempt, self._max_attempts, topic, partition, offset, 0)
            )
            failure = classify(error, attempt=attempt, max_attempts=self._max_attempts)
            await self._forward(message, received, context, failure, error)
            return
        event_id = event_id_of(where, received)
        context = new_context(
            (event_id, attempt, self._max_attempts, topic, partition, offset, prior)
        )
        try:
            event = decode_event(
                message.value(), self._model, max_bytes=self._options.max_message_bytes
            )
            await self._handler(event, context)
        except Exception as error:
            failure = classify(error, attempt=context.attempt, max_attempts=context.max_attempts)
            await self._forward(message, received, context, failure, error)

    async def _forward(
        self,
        message: Message,
        received: dict[str, str],
        context: Context,
        failure: Failure,
        error: Exception,
    ) -> None:
        onward = route(
            message,
            received,
            failure,
            event_id=context.event_id,
            attempt=context.attempt,
            topics=self._topics,
            policy=self._options.policy,
            now_ms=now_ms(),
        )
        _report(context, failure, next_topic=onward.topic, error=error)
        value, onward_headers = message.value(), onward.headers
        if value is not None and len(value) > self._options.max_message_bytes:
            # Over the limit it may not fit the next topic with our headers: a marker goes.
            onward_headers = [*onward_headers, (headers.VALUE_DROPPED, str(len(value)).encode())]
            value = headers.DROPPED_VALUE
        backoff = 0.5
        blocked = False
        while True:
            try:
                await self._producer.send(
                    onward.topic, value=value, key=message.key(), headers=onward_headers
                )
                break
            except KafkaException as exc:
                if exc.args[0].fatal():
                    raise  # the idempotent producer is unusable: the process must restart
                # Once an error (Sentry hears of it), then warnings while it lasts.
                log = logger.warning if blocked else logger.error
                log(
                    "writing a failed message onward failed; its partition pauses",
                    extra={
                        "topic": context.topic,
                        "partition": context.partition,
                        "offset": context.offset,
                        "next_topic": onward.topic,
                        "error": str(exc.args[0]),
                    },
                )
                if not blocked:
                    blocked = True
                    self._on_blocked((context.topic, context.partition), True)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, REROUTE_BACKOFF_MAX)
        if blocked:
            self._on_blocked((context.topic, context.partition), False)


def check_headers(message: Message) -> tuple[dict[str, str], int]:
    """Refuse headers a producer got wrong; return them as text, with the prior attempts they carry.

    Raises:
        FatalError: a header name is not UTF-8, the event id is unusable, or
            ``x-prior-attempts`` is malformed.
    """
    try:
        received = checked_headers(message)
        return received, prior_attempts(received) if received else 0
    except ValueError as exc:
        raise FatalError(str(exc)) from None


def _report(context: Context, failure: Failure, *, next_topic: str, error: Exception) -> None:
    """One structured log line per failure; Sentry for fatal and exhausted ones."""
    facts = {
        "topic": context.topic,
        "partition": context.partition,
        "offset": context.offset,
        "event_id": context.event_id,
        "attempt": context.attempt,
        "error_kind": failure.kind,
        "error_class": failure.error_class,
        "error": failure.message,
        "http_status": failure.http_status,
        "next_topic": next_topic,
    }
    # A traceback helps only when the handler did not raise a JobError on purpose.
    traceback = None if isinstance(error, JobError) else error
    logger.warning("attempt failed", extra=facts, exc_info=traceback)
    if failure.kind != "retryable":
        capture_failure(
            f"{failure.kind}: {failure.error_class}: {failure.message}",
            level="error",
            tags={key: value for key, value in facts.items() if key != "error"},
        )

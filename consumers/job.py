"""What a job is: a topic, a payload model and a handler.

A job module exposes one ``Job`` value. The runtime decodes and validates each
message, calls the handler, and routes failures; nothing about Kafka reaches
the handler beyond the read-only ``Context``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, NamedTuple

from pydantic import BaseModel

from schemas.topics import TopicSpec
from streamjobs.settings import Settings


class Context(NamedTuple):
    """Facts about the message being handled (a tuple: cheap to make per message).

    Args:
        event_id: the idempotency key: the ``event-id`` header, else
            ``<topic>:<partition>:<offset>`` of the first delivery.
        attempt: this attempt's number, from 1.
        max_attempts: the attempt after which a retryable failure is final.
        topic: topic of this delivery (a main or a delay topic).
        partition: partition of this delivery.
        offset: offset of this delivery.
        prior_attempts: attempts made before an operator replayed the event
            from the DLQ (0 when it was never replayed).
    """

    event_id: str
    attempt: int
    max_attempts: int
    topic: str
    partition: int
    offset: int
    prior_attempts: int = 0

    @property
    def overall_attempt(self) -> int:
        """This attempt's number counted over replays too: 4 is the first after a replay of 3."""
        return self.prior_attempts + self.attempt

    @property
    def is_last_attempt(self) -> bool:
        """True when a retryable failure now goes to the dead-letter topic."""
        return self.attempt >= self.max_attempts


Handler = Callable[[Any, Context], Awaitable[None]]
"""``async def handle(event, context) -> None``: return on success, raise
``RetryableError`` or ``FatalError`` on failure. Any other exception counts
as retryable."""

HandlerFactory = Callable[[Settings], AbstractAsyncContextManager[Handler]]
"""Opens a job's resources (HTTP pool, database engine) and yields its handler;
they are closed when the consumer stops."""


@dataclass(frozen=True, kw_only=True)
class Job:
    """One job of the registry.

    Args:
        topic: the registry entry it consumes.
        open: a factory of the handler; see ``HandlerFactory``.
    """

    topic: TopicSpec
    open: HandlerFactory

    @property
    def name(self) -> str:
        """The job's name on the command line, such as ``webhook``."""
        return self.topic.job

    @property
    def model(self) -> type[BaseModel]:
        """The payload model the runtime validates each message against."""
        return self.topic.model

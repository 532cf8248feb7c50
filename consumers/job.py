"""What a job is: a topic, a payload model, a handler and its concurrency.

A job module exposes one ``Job`` value. The runtime decodes and validates each
message against the topic's model, calls the handler, and routes failures;
nothing about Kafka reaches the handler beyond the read-only ``Context``.
``Job``, ``Handler`` and ``HandlerFactory`` are generic over the event model,
so mypy checks that a handler takes the type its topic carries.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Generic, NamedTuple, Protocol, TypeAlias, TypeVar

from pydantic import BaseModel

from schemas.topics import EventT, TopicSpec
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


Handler: TypeAlias = Callable[[EventT, Context], Awaitable[None]]
"""``async def handle(event, context) -> None``: return on success, raise
``RetryableError`` or ``FatalError`` on failure. Any other exception counts
as retryable."""


EventContraT = TypeVar("EventContraT", bound=BaseModel, contravariant=True)
"""A factory's event type: one for a wider model serves a narrower one too."""


class HandlerFactory(Protocol[EventContraT]):
    """Opens a job's resources (HTTP pool, database engine) and yields its handler.

    Args:
        settings: the process's settings.
        concurrency: how many calls of the handler run at once at most; size
            pools to it rather than to any setting.

    The resources are closed when the consumer stops.
    """

    def __call__(
        self, settings: Settings, /, *, concurrency: int
    ) -> AbstractAsyncContextManager[Handler[EventContraT]]: ...


@dataclass(frozen=True, kw_only=True)
class Job(Generic[EventT]):
    """One job of the catalog.

    Args:
        topic: the registry entry it consumes.
        open: a factory of the handler; see ``HandlerFactory``.
        concurrency: calls of the handler at work per process by default:
            many for I/O-bound jobs, one for a job that must run alone.
            ``consume --concurrency`` and ``CONSUMER_CONCURRENCY`` override it.
        overlap: messages in flight per unit of concurrency; default 1. A
            job whose calls spend part of their time on bookkeeping before and
            after their real work (the webhook job's log rows) takes more, so
            that the bookkeeping of some calls overlaps the work of others; its
            factory then bounds the work itself to ``concurrency``.
    """

    topic: TopicSpec[EventT]
    open: HandlerFactory[EventT]
    concurrency: int
    overlap: int = 1

    @property
    def name(self) -> str:
        """The job's name on the command line, such as ``webhook``."""
        return self.topic.job

    @property
    def model(self) -> type[EventT]:
        """The payload model the runtime validates each message against."""
        return self.topic.model

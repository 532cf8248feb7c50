"""The topic registry: every topic, its consumer group, job and payload model.

Topic creation, the consumers, the producers, DLQ replay and ``status`` all
read this registry. Names here carry no prefix; ``TopicSet`` applies the
environment's ``KAFKA_TOPIC_PREFIX`` and retry tiers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from schemas.events import AuditCleanup, EmailSend, EmailSendBatch, WebhookSend

EventT = TypeVar("EventT", bound=BaseModel)
"""The payload model of a topic; a job's handler takes exactly that type."""

RETRY_SUFFIX = ".retry."
"""Infix of delay topics: ``webhook.send.retry.1``."""

DLQ_SUFFIX = ".dlq"
"""Suffix of dead-letter topics: ``webhook.send.dlq``."""


@dataclass(frozen=True, kw_only=True)
class TopicSpec(Generic[EventT]):
    """One main topic of the registry, generic over its payload model.

    Args:
        name: the topic, without prefix, such as ``webhook.send``.
        job: the job that consumes it, as named on the command line.
        group: its consumer group, without prefix.
        model: the pydantic model of its payload.
    """

    name: str
    job: str
    group: str
    model: type[EventT]


@dataclass(frozen=True, kw_only=True)
class TopicSet:
    """A main topic with its delay topics and DLQ, as named in one environment.

    Args:
        spec: the registry entry.
        main: prefixed main topic.
        group: prefixed consumer group.
        delays: seconds before attempt 2, 3, ...; one delay topic each.
    """

    spec: TopicSpec[Any]
    main: str
    group: str
    delays: tuple[float, ...]

    @property
    def attempts(self) -> int:
        """Attempts a message gets before it is exhausted."""
        return len(self.delays) + 1

    @property
    def retries(self) -> tuple[str, ...]:
        """Delay topics, in order: the one before attempt 2 comes first."""
        return tuple(f"{self.main}{RETRY_SUFFIX}{n}" for n in range(1, self.attempts))

    @property
    def dlq(self) -> str:
        """The dead-letter topic."""
        return self.main + DLQ_SUFFIX

    @property
    def consumed(self) -> tuple[str, ...]:
        """Every topic the group reads: the main topic and its delay topics."""
        return (self.main, *self.retries)

    def retry_topic(self, attempt: int) -> str:
        """The delay topic a message enters after failing attempt ``attempt``."""
        return self.retries[attempt - 1]


WEBHOOK_SEND = TopicSpec(
    name="webhook.send", job="webhook", group="streamjobs.webhook", model=WebhookSend
)
EMAIL_SEND = TopicSpec(name="email.send", job="email", group="streamjobs.email", model=EmailSend)
EMAIL_SEND_BATCH = TopicSpec(
    name="email.send-batch", job="email-batch", group="streamjobs.email-batch", model=EmailSendBatch
)
AUDIT_CLEANUP = TopicSpec(
    name="audit.cleanup", job="cleanup", group="streamjobs.cleanup", model=AuditCleanup
)

REGISTRY: tuple[TopicSpec[Any], ...] = (WEBHOOK_SEND, EMAIL_SEND, EMAIL_SEND_BATCH, AUDIT_CLEANUP)
"""Every main topic, in the order commands list them."""


def find_spec(name: str) -> TopicSpec[Any]:
    """The registry entry of main topic ``name`` (unprefixed).

    Raises:
        KeyError: no such topic; the message lists the known ones.
    """
    for spec in REGISTRY:
        if spec.name == name:
            return spec
    known = ", ".join(spec.name for spec in REGISTRY)
    raise KeyError(f"unknown topic {name!r}; known topics: {known}")

"""Validate and publish events to the registry's topics.

Example::

    with Publisher(load_settings()) as publisher:
        publisher.publish("email.send", {"to": "ada@example.com", ...})
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from confluent_kafka import KafkaError, Message, Producer
from pydantic import BaseModel

from schemas.headers import EVENT_ID, HeaderList
from schemas.topics import find_spec
from streamjobs.errors import StreamjobsError
from streamjobs.kafka import producer_config
from streamjobs.settings import Settings

FLUSH_TIMEOUT = 30.0
"""Seconds ``close`` waits for unconfirmed events before giving up."""


class PublishError(StreamjobsError):
    """The broker did not confirm an event."""


@dataclass(frozen=True)
class Delivered:
    """Where the broker stored a published event."""

    topic: str
    partition: int
    offset: int


class Publisher:
    """Publishes validated events; one instance per process is enough (thread-safe).

    Args:
        settings: brokers, security and the topic prefix.
        producer: an existing confluent-kafka producer to share (optional).
    """

    def __init__(self, settings: Settings, *, producer: Producer | None = None) -> None:
        self._settings = settings
        self._producer = producer or Producer(producer_config(settings))

    def publish(
        self,
        topic: str,
        event: BaseModel | Mapping[str, Any],
        *,
        key: str | bytes | None = None,
        event_id: str | None = None,
        wait: bool = True,
    ) -> Delivered | None:
        """Validate ``event`` against ``topic``'s model and publish it.

        Args:
            topic: a registry topic without prefix, such as ``email.send``.
            event: a model instance or a mapping that validates as one.
            key: optional partition key.
            event_id: optional idempotency key, sent as the ``event-id`` header.
            wait: block until the broker confirms (default); when False, return
                None at once and let ``flush`` or ``close`` wait.

        Raises:
            KeyError: ``topic`` is not in the registry.
            pydantic.ValidationError: ``event`` does not match the model.
            PublishError: the broker did not confirm the write.
        """
        model = find_spec(topic).model
        payload = event if isinstance(event, model) else model.model_validate(event)
        value = payload.model_dump_json(by_alias=True, exclude_none=True).encode()
        return self.publish_raw(
            self._settings.prefixed(topic),
            value,
            key=key,
            headers=_event_id_header(event_id),
            wait=wait,
        )

    def publish_raw(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: str | bytes | None = None,
        headers: HeaderList | None = None,
        wait: bool = True,
    ) -> Delivered | None:
        """Publish bytes as they are to the full topic name ``topic`` (no validation)."""
        outcome: list[Message | KafkaError] = []

        def on_delivery(error: KafkaError | None, message: Message) -> None:
            outcome.append(error if error is not None else message)

        self._producer.produce(topic, value, key, headers=headers or None, on_delivery=on_delivery)
        if not wait:
            self._producer.poll(0)
            return None
        self._producer.flush(FLUSH_TIMEOUT)
        if not outcome:
            raise PublishError(
                f"no confirmation from the broker for {topic} within {FLUSH_TIMEOUT:.0f}s"
            )
        result = outcome[0]
        if isinstance(result, KafkaError):
            raise PublishError(f"publishing to {topic} failed: {result.str()}")
        return Delivered(topic, result.partition() or 0, result.offset() or 0)

    def flush(self, timeout: float = FLUSH_TIMEOUT) -> int:
        """Wait for unconfirmed events; returns how many are still unconfirmed."""
        return int(self._producer.flush(timeout))

    def close(self) -> None:
        """Wait for unconfirmed events.

        Raises:
            PublishError: some events were still unconfirmed after ``FLUSH_TIMEOUT``.
        """
        remaining = self.flush()
        if remaining:
            raise PublishError(f"{remaining} events unconfirmed after {FLUSH_TIMEOUT:.0f}s")

    def __enter__(self) -> Publisher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _event_id_header(event_id: str | None) -> HeaderList:
    return [(EVENT_ID, event_id.encode())] if event_id else []


def parse_event_json(text: str) -> dict[str, Any]:
    """The JSON object in ``text``.

    Raises:
        ValueError: ``text`` is not JSON (``NaN`` and ``Infinity`` included) or
            not an object; the message says which.
    """
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(value, dict):
        raise ValueError(f"an event must be a JSON object, not {type(value).__name__}")
    return value


def _refuse_constant(name: str) -> Any:
    # Python's json module takes NaN and Infinity; JSON has no such tokens.
    raise ValueError(f"not JSON: {name} is not a JSON number")

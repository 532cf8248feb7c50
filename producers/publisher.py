"""Validate and publish events to the registry's topics.

Example::

    with Publisher(load_settings()) as publisher:
        publisher.publish("email.send", {"to": "ada@example.com", ...})

``publish`` waits for the broker; ``publish_nowait`` returns a future that a
background thread completes when the broker confirms, and ``flush`` waits for
every outstanding event.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from pydantic import BaseModel, ValidationError

from schemas.events import EmailSend, describe_validation
from schemas.headers import EVENT_ID, HeaderList
from schemas.topics import find_spec
from streamjobs.errors import StreamjobsError
from streamjobs.kafka import producer_config
from streamjobs.settings import Settings

FLUSH_TIMEOUT = 30.0
"""Seconds ``publish``, ``flush`` and ``close`` wait for unconfirmed events."""

POLL_INTERVAL = 0.1
"""Seconds the background thread waits for delivery reports per turn."""


class PublishError(StreamjobsError):
    """The broker did not confirm an event."""


class InvalidEventError(StreamjobsError, ValueError):
    """An event was refused before sending: not valid for its topic, or too large."""


@dataclass(frozen=True)
class Delivered:
    """Where the broker stored a published event."""

    topic: str
    partition: int
    offset: int


class Publisher:
    """Publishes validated events; one instance per process is enough (thread-safe).

    Args:
        settings: brokers, security, the topic prefix and ``MAX_EVENT_BYTES``.
        producer: an existing confluent-kafka producer to share (optional).
    """

    def __init__(self, settings: Settings, *, producer: Producer | None = None) -> None:
        self._settings = settings
        self._producer = producer or Producer(producer_config(settings))
        self._stopping = threading.Event()
        self._poller: threading.Thread | None = None
        self._poller_lock = threading.Lock()

    def encode(self, topic: str, event: BaseModel | Mapping[str, Any]) -> bytes:
        """``event`` validated against ``topic``'s model, as the bytes that would be sent.

        Args:
            topic: a registry topic without prefix, such as ``email.send``.
            event: a model instance or a mapping that validates as one.

        Raises:
            KeyError: ``topic`` is not in the registry.
            InvalidEventError: ``event`` does not match the model, or its JSON
                is larger than ``MAX_EVENT_BYTES``; the message says which field
                or how many bytes.
        """
        model = find_spec(topic).model
        try:
            payload = event if isinstance(event, model) else model.model_validate(event)
        except ValidationError as exc:
            raise InvalidEventError(f"invalid {topic} event: {describe_validation(exc)}") from None
        value: bytes = payload.model_dump_json(by_alias=True, exclude_none=True).encode()
        limit = self._settings.max_event_bytes
        if len(value) > limit:
            raise InvalidEventError(
                f"{topic} event is {len(value):,} bytes, over MAX_EVENT_BYTES ({limit:,})"
            )
        return value

    def publish(
        self,
        topic: str,
        event: BaseModel | Mapping[str, Any],
        *,
        event_id: str | None = None,
        key: str | bytes | None = None,
    ) -> Delivered:
        """Validate ``event`` against ``topic``'s model, publish it and wait for the broker.

        Args:
            topic: a registry topic without prefix, such as ``email.send``.
            event: a model instance or a mapping that validates as one.
            event_id: optional idempotency key, sent as the ``event-id`` header.
            key: optional partition key.

        Raises:
            KeyError: ``topic`` is not in the registry.
            InvalidEventError: ``event`` is invalid or too large; nothing was sent.
            PublishError: the broker did not confirm the write.
        """
        future = self.publish_nowait(topic, event, event_id=event_id, key=key)
        return self._wait(future)

    def publish_nowait(
        self,
        topic: str,
        event: BaseModel | Mapping[str, Any],
        *,
        event_id: str | None = None,
        key: str | bytes | None = None,
    ) -> Future[Delivered]:
        """Like ``publish``, but return at once: the future completes when the broker confirms.

        A background thread collects the broker's confirmations; ``flush``
        waits for all of them. The future fails with ``PublishError``.

        Raises:
            KeyError: ``topic`` is not in the registry.
            InvalidEventError: ``event`` is invalid or too large; nothing was sent.
        """
        value = self.encode(topic, event)
        headers: HeaderList = [(EVENT_ID, event_id.encode())] if event_id else []
        return self.publish_raw_nowait(
            self._settings.prefixed(topic), value, key=key, headers=headers
        )

    def publish_raw(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: str | bytes | None = None,
        headers: HeaderList | None = None,
    ) -> Delivered:
        """Publish bytes as they are to the full topic name ``topic`` (no validation) and wait.

        Raises:
            PublishError: the broker did not confirm the write.
        """
        return self._wait(self.publish_raw_nowait(topic, value, key=key, headers=headers))

    def publish_raw_nowait(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: str | bytes | None = None,
        headers: HeaderList | None = None,
    ) -> Future[Delivered]:
        """Like ``publish_raw``, but return a future that completes when the broker confirms."""
        future: Future[Delivered] = Future()

        def on_delivery(error: KafkaError | None, message: Message) -> None:
            if error is not None:
                future.set_exception(PublishError(f"publishing to {topic} failed: {error.str()}"))
            else:
                future.set_result(Delivered(topic, message.partition() or 0, message.offset() or 0))

        try:
            self._producer.produce(
                topic, value, key, headers=headers or None, on_delivery=on_delivery
            )
        except (KafkaException, BufferError) as exc:
            raise PublishError(f"publishing to {topic} failed: {exc}") from None
        self._start_poller()
        return future

    def send_webhook(
        self,
        webhook_id: uuid.UUID | str,
        event_type: str,
        payload: Mapping[str, Any],
        *,
        event_id: str | None = None,
    ) -> Delivered:
        """Publish a ``webhook.send`` event keyed by ``webhook_id`` and wait for the broker.

        The key puts one endpoint's events on one partition, so they are
        delivered in order as far as retries allow.

        Args:
            webhook_id: the endpoint (``streamjobs webhooks add`` prints it).
            event_type: the body's ``type``, such as ``invoice.paid``.
            payload: the body's ``data``.
            event_id: idempotency key, the receiver's ``webhook-id`` (default:
                the consumer derives one from where the event is stored).

        Raises:
            InvalidEventError: the event is invalid or too large; nothing was sent.
            PublishError: the broker did not confirm the write.
        """
        event = {"webhook_id": str(webhook_id), "event_type": event_type, "payload": payload}
        return self.publish("webhook.send", event, event_id=event_id, key=str(webhook_id))

    def send_email(
        self, email: EmailSend | Mapping[str, Any], *, event_id: str | None = None
    ) -> Delivered:
        """Publish one ``email.send`` event (``to``, ``subject``, ``html`` or ``text``, ...).

        Raises:
            InvalidEventError: the email is invalid or too large; nothing was sent.
            PublishError: the broker did not confirm the write.
        """
        return self.publish("email.send", email, event_id=event_id)

    def send_email_batch(
        self,
        emails: Sequence[EmailSend | Mapping[str, Any]],
        *,
        event_id: str | None = None,
    ) -> Delivered:
        """Publish one ``email.send-batch`` event; the consumer sends it in chunks.

        Raises:
            InvalidEventError: an email is invalid, or the event too large; nothing was sent.
            PublishError: the broker did not confirm the write.
        """
        return self.publish("email.send-batch", {"emails": list(emails)}, event_id=event_id)

    def _wait(self, future: Future[Delivered]) -> Delivered:
        self._producer.flush(FLUSH_TIMEOUT)
        try:
            return future.result(timeout=FLUSH_TIMEOUT)
        except TimeoutError:
            raise PublishError(
                f"no confirmation from the broker within {FLUSH_TIMEOUT:.0f}s"
            ) from None

    def _start_poller(self) -> None:
        with self._poller_lock:
            if self._poller is None and not self._stopping.is_set():
                self._poller = threading.Thread(
                    target=self._poll, name="publisher-poll", daemon=True
                )
                self._poller.start()

    def _poll(self) -> None:
        # Delivery reports are only handed out by poll() or flush(); without this
        # thread a caller of publish_nowait would wait forever unless it flushed.
        while not self._stopping.is_set():
            self._producer.poll(POLL_INTERVAL)

    def flush(self, timeout: float = FLUSH_TIMEOUT) -> int:
        """Wait for unconfirmed events; returns how many are still unconfirmed."""
        return int(self._producer.flush(timeout))

    def close(self) -> None:
        """Wait for unconfirmed events, then stop the background thread.

        Raises:
            PublishError: some events were still unconfirmed after ``FLUSH_TIMEOUT``.
        """
        remaining = self.flush()
        self._stopping.set()
        if self._poller is not None:
            self._poller.join()
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


def parse_event_json(text: str) -> dict[str, Any]:
    """The JSON object in ``text``.

    Raises:
        ValueError: ``text`` is not JSON or not an object; the message says which.
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(value, dict):
        raise ValueError(f"an event must be a JSON object, not {type(value).__name__}")
    return value

"""An idempotent producer whose writes can be awaited until the broker confirms them.

confluent-kafka's asyncio producer cannot send headers, so this wraps the
synchronous ``Producer``: a background thread serves its delivery callbacks
and each callback settles an asyncio future on the caller's loop.
"""

from __future__ import annotations

import asyncio
import threading

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from schemas.headers import HeaderList
from streamjobs.kafka import producer_config
from streamjobs.settings import Settings

POLL_INTERVAL = 0.1
"""Seconds the callback thread waits for delivery reports per round."""

QUEUE_FULL_BACKOFF = 0.05
"""Seconds to wait when the local queue is full before producing again."""


class ConfirmingProducer:
    """Shares one idempotent (``acks=all``) producer among every worker of a process.

    Args:
        settings: brokers and security.
    """

    def __init__(self, settings: Settings) -> None:
        self._producer = Producer(producer_config(settings))
        self._closing = threading.Event()
        self._thread = threading.Thread(
            target=self._serve_callbacks, name="streamjobs-producer", daemon=True
        )
        self._thread.start()

    def _serve_callbacks(self) -> None:
        while not self._closing.is_set():
            self._producer.poll(POLL_INTERVAL)

    async def send(
        self,
        topic: str,
        *,
        value: bytes | None,
        key: bytes | None,
        headers: HeaderList,
    ) -> None:
        """Write one message and return once the broker confirmed it.

        Raises:
            KafkaException: the broker refused the write or it timed out.
        """
        loop = asyncio.get_running_loop()
        confirmed: asyncio.Future[None] = loop.create_future()

        def on_delivery(error: KafkaError | None, _message: Message) -> None:
            loop.call_soon_threadsafe(_settle, confirmed, error)

        while True:
            try:
                self._producer.produce(topic, value, key, headers=headers, on_delivery=on_delivery)
                break
            except BufferError:
                await asyncio.sleep(QUEUE_FULL_BACKOFF)
        await confirmed

    def close(self, timeout: float = 30.0) -> int:
        """Flush pending writes and stop the callback thread; returns writes left unconfirmed."""
        self._closing.set()
        self._thread.join()
        return int(self._producer.flush(timeout))


def _settle(future: asyncio.Future[None], error: KafkaError | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(KafkaException(error))

"""Endpoint configs for the job, cached for a short time.

Every delivery needs its endpoint's URL and secrets; reading them once per
``ttl`` seconds per endpoint keeps the database out of the hot path while a
change (a rotation, a disable) is seen within ``WEBHOOK_CONFIG_CACHE_TTL``.
Concurrent misses for one endpoint share a single query.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from consumers.webhook.codes import E_DATABASE, E_UNKNOWN_WEBHOOK, E_WEBHOOK_DISABLED
from consumers.webhook.registry import Endpoint, disable_endpoint, get_endpoint
from streamjobs.errors import FatalError, RetryableError

logger = logging.getLogger(__name__)


class WebhookDisabledError(FatalError):
    """The endpoint is disabled; the event is parked in the DLQ under this class name
    until ``webhooks enable`` and a replay by key (``--error-class WebhookDisabledError``)."""


_Entry = tuple[float, "asyncio.Future[Endpoint | None]"]


class EndpointCache:
    """Active endpoints by id, each read at most once per ``ttl`` seconds.

    Args:
        engine: the sync engine; queries run in worker threads.
        ttl: seconds a read stays valid (``WEBHOOK_CONFIG_CACHE_TTL``, at most 30).
        clock: monotonic seconds; default ``time.monotonic``.
    """

    def __init__(
        self, engine: Engine, *, ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._engine = engine
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[uuid.UUID, _Entry] = {}

    async def get(self, webhook_id: uuid.UUID) -> Endpoint:
        """The active endpoint ``webhook_id``.

        Raises:
            FatalError: no such endpoint (``E_UNKNOWN_WEBHOOK``) or it is
                disabled (``E_WEBHOOK_DISABLED``).
            RetryableError: the database did not answer (``E_DATABASE``).
        """
        endpoint = await self._read(webhook_id)
        if endpoint is None:
            raise FatalError(f"unknown webhook {webhook_id}", code=E_UNKNOWN_WEBHOOK)
        if not endpoint.active:
            reason = endpoint.disabled_reason or "no reason given"
            raise WebhookDisabledError(
                f"webhook {webhook_id} is disabled: {reason}", code=E_WEBHOOK_DISABLED
            )
        return endpoint

    async def disable(self, webhook_id: uuid.UUID, reason: str) -> None:
        """Disable the endpoint with ``reason`` and forget its cached config.

        A database failure is logged, not raised: the delivery has failed for
        good either way, and the next answer of the same kind disables it.
        """
        self._entries.pop(webhook_id, None)
        try:
            await asyncio.to_thread(disable_endpoint, self._engine, webhook_id, reason)
        except SQLAlchemyError as exc:
            logger.warning(
                "could not disable webhook",
                extra={"webhook_id": str(webhook_id), "error_class": type(exc).__name__},
            )
        else:
            logger.warning(
                "webhook disabled", extra={"webhook_id": str(webhook_id), "reason": reason}
            )

    async def _read(self, webhook_id: uuid.UUID) -> Endpoint | None:
        entry = self._entries.get(webhook_id)
        if entry is None or entry[0] <= self._clock():
            load = asyncio.to_thread(get_endpoint, self._engine, webhook_id)
            entry = (self._clock() + self._ttl, asyncio.ensure_future(load))
            self._entries[webhook_id] = entry
        try:
            # Shielded: one caller's cancellation must not fail the others' shared read.
            return await asyncio.shield(entry[1])
        except SQLAlchemyError as exc:
            if self._entries.get(webhook_id) is entry:
                del self._entries[webhook_id]
            message = f"cannot read webhook {webhook_id} from the database ({type(exc).__name__})"
            raise RetryableError(message, code=E_DATABASE) from None

"""The HTTP surface: ``POST /api/cron/cleanup`` (the replaced system's path) and ``GET /healthz``.

``POST /api/cron/cleanup`` with ``Authorization: Bearer $CRON_SECRET``
publishes a manual run and answers 202 ``{"event_id": ...}``. A missing or
wrong token gets 401; without ``CRON_SECRET`` every call gets 503, so the
endpoint is never open. The optional body ``{"retention_days": N}`` takes N
from 1 to 3650; anything else is a 400. All calls within one minute share
one event id, so they run once.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import SecretStr

from producers.publisher import PublishError
from schemas.events import AuditCleanup

logger = logging.getLogger("streamjobs.scheduler")

CLEANUP_PATH = "/api/cron/cleanup"
"""Where existing cron callers post."""

HEALTH_PATH = "/healthz"
"""200 while the schedule is healthy, else 503."""

MAX_BODY_BYTES = 4096
"""Largest request body accepted; the only field is a number."""

WWW_AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="streamjobs"'}
"""The challenge sent with a 401 (RFC 6750)."""


Publish = Callable[[int | None], Awaitable[str]]
"""Publishes a manual run with the given retention (None: the default); returns its event id."""

Health = Callable[[], tuple[bool, dict[str, Any]]]
"""Whether the scheduler is healthy, and the facts ``/healthz`` shows."""


def make_app(*, secret: SecretStr | None, publish: Publish, health: Health) -> web.Application:
    """The aiohttp application.

    Args:
        secret: ``CRON_SECRET``; None answers 503 to every trigger.
        publish: sends the manual run's event.
        health: the loop's state, for ``/healthz``.
    """

    async def trigger(request: web.Request) -> web.Response:
        if secret is None:
            return _error(503, "CRON_SECRET is not set; the manual trigger is off")
        if not _authorized(request.headers.get("Authorization", ""), secret):
            logger.warning("refused a trigger: bad token", extra={"remote": request.remote})
            return _error(401, "missing or wrong bearer token", WWW_AUTHENTICATE)
        try:
            retention = _retention(await request.read())
        except ValueError as exc:
            logger.warning("refused a trigger: bad body", extra={"reason": str(exc)})
            return _error(400, str(exc))
        try:
            event_id = await publish(retention)
        except PublishError:
            return _error(503, "the broker did not confirm the event; try again")
        return web.json_response({"event_id": event_id}, status=202)

    async def healthz(request: web.Request) -> web.Response:
        healthy, facts = health()
        return web.json_response(facts, status=200 if healthy else 503)

    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_post(CLEANUP_PATH, trigger)
    app.router.add_get(HEALTH_PATH, healthz)
    return app


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def _authorized(header: str, secret: SecretStr) -> bool:
    """Constant-time check of ``Bearer <token>`` against the secret."""
    scheme, _, token = header.partition(" ")
    expected = secret.get_secret_value().encode()
    # compare_digest on the bytes always runs, so timing tells nothing.
    matches = hmac.compare_digest(token.strip().encode(), expected)
    return scheme.lower() == "bearer" and matches


def _retention(body: bytes) -> int | None:
    """``retention_days`` from an optional JSON body.

    Raises:
        ValueError: the body is not JSON, not an object, has other fields, or
            the number is not a whole number from 1 to 3650.
    """
    if not body.strip():
        return None
    try:
        document = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValueError('the body must be JSON such as {"retention_days": 30}') from None
    if not isinstance(document, dict) or set(document) - {"retention_days"}:
        raise ValueError("the body takes one optional field: retention_days")
    days = document.get("retention_days")
    if days is None:
        return None
    low, high = _RETENTION_BOUNDS
    if isinstance(days, bool) or not isinstance(days, int) or not low <= days <= high:
        raise ValueError(f"retention_days must be a whole number from {low} to {high}")
    return days


def _bounds() -> tuple[int, int]:
    """The event model's bounds of ``retention_days``, so the two never differ."""
    schema = AuditCleanup.model_json_schema()["properties"]["retention_days"]["anyOf"][0]
    return int(schema["minimum"]), int(schema["maximum"])


_RETENTION_BOUNDS = _bounds()

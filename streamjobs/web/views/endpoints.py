"""``/endpoints``: each webhook endpoint's health and state, and the actions on it.

Enable and disable are ``consumers.webhook.registry``'s (what ``streamjobs
webhooks enable|disable`` run); "recover failed since T" is the replay of
``streamjobs dlq replay webhook.send --key ID --since T``; "send test event"
publishes through the producer API's ``send_webhook``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from aiohttp import web

from consumers.webhook.registry import disable_endpoint, enable_endpoint, list_endpoints
from schemas.topics import WEBHOOK_SEND
from streamjobs.kafka import topic_set
from streamjobs.web import dead_letters, history
from streamjobs.web.dead_letters import Criteria
from streamjobs.web.pages import ENGINE, PUBLISHER, SETTINGS, in_db, in_thread, render

DEFAULT_REASON = "disabled from the job view"
"""Reason recorded when the disable form gives none."""

TEST_EVENT_TYPE = "streamjobs.test"
"""The ``type`` of a test event."""


def add_routes(router: web.UrlDispatcher) -> None:
    """``GET /endpoints`` and its four ``POST`` actions."""
    router.add_get("/endpoints", show, name="endpoints")
    router.add_post("/endpoints/{id}/enable", enable)
    router.add_post("/endpoints/{id}/disable", disable)
    router.add_post("/endpoints/{id}/recover", recover)
    router.add_post("/endpoints/{id}/test", send_test)


async def show(request: web.Request) -> web.StreamResponse:
    """Every endpoint with its health; secrets are never read into the page."""
    engine = request.app[ENGINE]
    endpoints = await in_thread(list_endpoints, engine)
    health = await in_db(request, history.endpoint_health)
    return render(
        request,
        "endpoints.html",
        endpoints=[(endpoint, health.get(endpoint.id, history.Health())) for endpoint in endpoints],
        note=request.query.get("note"),
        cache_ttl=request.app[SETTINGS].webhook_config_cache_ttl,
    )


def _id(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound(text="not a webhook id") from None


def _back(request: web.Request, note: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(request.app.router["endpoints"].url_for().with_query(note=note))


async def enable(request: web.Request) -> web.StreamResponse:
    """Enable the endpoint."""
    webhook_id = _id(request)
    if await in_thread(enable_endpoint, request.app[ENGINE], webhook_id) is None:
        raise web.HTTPNotFound(text=f"no webhook with id {webhook_id}")
    raise _back(request, f"webhook {webhook_id} enabled")


async def disable(request: web.Request) -> web.StreamResponse:
    """Disable the endpoint with the form's reason."""
    webhook_id = _id(request)
    form = await request.post()
    reason = str(form.get("reason", "")).strip() or DEFAULT_REASON
    if await in_thread(disable_endpoint, request.app[ENGINE], webhook_id, reason) is None:
        raise web.HTTPNotFound(text=f"no webhook with id {webhook_id}")
    raise _back(request, f"webhook {webhook_id} disabled")


async def recover(request: web.Request) -> web.StreamResponse:
    """Replay the endpoint's dead letters that failed at or after the form's ``since``."""
    webhook_id = _id(request)
    form = await request.post()
    since = str(form.get("since", "")).strip()
    criteria = Criteria(key=str(webhook_id), since=since or None)
    try:
        criteria.selection()
    except ValueError as exc:
        raise _back(request, f"not recovered: {exc}") from None
    settings = request.app[SETTINGS]
    topics = topic_set(settings, WEBHOOK_SEND)
    counts = await in_thread(dead_letters.replay, settings, topics, criteria, dry_run=False)
    note = f"webhook {webhook_id}: replayed {counts.moved} dead letters"
    if counts.failed:
        note += f", {counts.failed} refused by the broker (run it again)"
    raise _back(request, note)


async def send_test(request: web.Request) -> web.StreamResponse:
    """Publish one test event to the endpoint."""
    webhook_id = _id(request)
    sent_at = datetime.now(UTC).isoformat()
    payload = {"test": True, "sent_at": sent_at, "sent_by": "streamjobs web"}
    event_id = f"{TEST_EVENT_TYPE}:{uuid.uuid4()}"
    await in_thread(
        request.app[PUBLISHER].send_webhook,
        webhook_id,
        TEST_EVENT_TYPE,
        payload,
        event_id=event_id,
    )
    raise _back(request, f"test event {event_id} sent to webhook {webhook_id}")

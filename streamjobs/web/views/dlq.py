"""``/dlq``: dead letters by error class and endpoint; replay one or a group after a dry run.

A replay form first posts with ``dry_run``: the page answers with the count
that would move and a button that posts the same criteria for real.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from multidict import MultiMapping
from sqlalchemy import Connection

from schemas.topics import REGISTRY, WEBHOOK_SEND, find_spec
from streamjobs.kafka import topic_set
from streamjobs.web import dead_letters
from streamjobs.web.dead_letters import Criteria
from streamjobs.web.pages import SETTINGS, in_db, in_thread, render


def add_routes(router: web.UrlDispatcher) -> None:
    """``GET /dlq`` and ``POST /dlq/replay``."""
    router.add_get("/dlq", show, name="dlq")
    router.add_post("/dlq/replay", replay)


def _topic(name: str) -> str:
    if name not in {spec.name for spec in REGISTRY}:
        raise web.HTTPBadRequest(text=f"unknown topic {name!r}")
    return name


async def show(request: web.Request) -> web.StreamResponse:
    """One topic's dead letters, grouped (``?topic=``, default the first of the registry)."""
    name = _topic(request.query.get("topic", REGISTRY[0].name))
    settings = request.app[SETTINGS]
    topics = topic_set(settings, find_spec(name))

    def read(connection: Connection) -> list[dead_letters.Group]:
        return dead_letters.grouped(
            settings, topics, connection if name == WEBHOOK_SEND.name else None
        )

    groups = await in_db(request, read)
    return render(
        request,
        "dlq.html",
        topic=name,
        topics=[spec.name for spec in REGISTRY],
        dlq=topics.dlq,
        groups=groups,
        note=request.query.get("note"),
    )


def _criteria(form: MultiMapping[Any]) -> Criteria:
    def field(name: str) -> str | None:
        value = str(form.get(name, "")).strip()
        return value or None

    return Criteria(
        event_id=field("event_id"),
        error_class=field("error_class"),
        key=field("key"),
        since=field("since"),
    )


async def replay(request: web.Request) -> web.StreamResponse:
    """Count (``dry_run``) or re-send the dead letters the form's criteria select."""
    form = await request.post()
    name = _topic(str(form.get("topic", "")))
    criteria = _criteria(form)
    dry_run = bool(form.get("dry_run"))
    settings = request.app[SETTINGS]
    topics = topic_set(settings, find_spec(name))
    try:
        criteria.selection()
    except ValueError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    counts = await in_thread(dead_letters.replay, settings, topics, criteria, dry_run=dry_run)
    if dry_run:
        return render(
            request, "replay.html", topic=name, criteria=criteria, counts=counts, main=topics.main
        )
    note = f"replayed {counts.moved} dead letters to {topics.main}"
    if counts.failed:
        note += f"; {counts.failed} failed (the broker refused), run it again"
    raise web.HTTPSeeOther(request.app.router["dlq"].url_for().with_query(topic=name, note=note))

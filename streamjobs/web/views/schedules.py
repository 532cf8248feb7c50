"""``/schedules``: the cleanup's cron, its next slot and history, and "run now".

"Run now" publishes the manual run that ``POST /api/cron/cleanup`` publishes
(``scheduler.service.publish_manual``); the cleanup consumer runs it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from scheduler.service import publish_manual
from scheduler.slots import SLOT_AT, next_slot
from streamjobs.web import history
from streamjobs.web.pages import PUBLISHER, in_db, in_thread, render

CRON = "0 3 * * *"
"""The cleanup's schedule as cron spells it (the replaced system's)."""


def add_routes(router: web.UrlDispatcher) -> None:
    """``GET /schedules`` and ``POST /schedules/cleanup/run``."""
    router.add_get("/schedules", show, name="schedules")
    router.add_post("/schedules/cleanup/run", run_now)


async def show(request: web.Request) -> web.StreamResponse:
    """The cron, the next slot and the newest runs."""
    runs = await in_db(request, history.cleanup_runs)
    return render(
        request,
        "schedules.html",
        cron=CRON,
        slot_at=SLOT_AT,
        next_slot=next_slot(datetime.now(UTC)),
        runs=runs,
        note=request.query.get("note"),
    )


async def run_now(request: web.Request) -> web.StreamResponse:
    """Publish a manual cleanup run; the page then lists it once the consumer claims it."""
    event_id = await in_thread(publish_manual, request.app[PUBLISHER], now=datetime.now(UTC))
    note = f"published cleanup {event_id}"
    raise web.HTTPSeeOther(request.app.router["schedules"].url_for().with_query(note=note))

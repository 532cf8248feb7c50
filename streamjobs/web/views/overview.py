"""``/``: one row per job with its history figures and what Kafka says of it.

The Kafka side is the report of ``streamjobs status`` (``streamjobs.status``);
when the broker does not answer, the page says so and still shows the
database's figures.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from schemas.topics import REGISTRY
from streamjobs.errors import StreamjobsError
from streamjobs.status import Status, gather
from streamjobs.web import history
from streamjobs.web.pages import SETTINGS, in_db, in_thread, render, topics_by_job


def add_routes(router: web.UrlDispatcher) -> None:
    """``GET /``."""
    router.add_get("/", show)


async def show(request: web.Request) -> web.StreamResponse:
    """The overview."""
    now = datetime.now(UTC)
    figures = await in_db(request, history.figures, now, topics_by_job(request))
    report: Status | None = None
    problem = None
    try:
        report = await in_thread(gather, request.app[SETTINGS])
    except StreamjobsError as exc:
        problem = str(exc)
    kafka = {job.job: job for job in report.jobs} if report else {}
    return render(
        request,
        "overview.html",
        rows=[(figure, kafka.get(figure.job)) for figure in figures],
        windows=list(history.WINDOWS),
        classes=history.OUTCOMES,
        duration_window=history.DURATION_WINDOW,
        report=report,
        problem=problem,
        dlq_topics={spec.job: spec.name for spec in REGISTRY},
    )

"""What every view of the job view uses: the app's shared state, rendering, worker threads."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import jinja2
from aiohttp import web
from sqlalchemy import Engine

from producers.publisher import Publisher
from schemas.topics import TopicSet
from streamjobs.database import failures_reported
from streamjobs.kafka import all_topic_sets
from streamjobs.settings import Settings
from streamjobs.web import security

T = TypeVar("T")

SETTINGS = web.AppKey("settings", Settings)
"""The process's settings."""

ENGINE = web.AppKey("engine", Engine)
"""The pooled database engine."""

PUBLISHER = web.AppKey("publisher", Publisher)
"""The producer that actions publish through."""

TEMPLATES = web.AppKey("templates", jinja2.Environment)
"""The Jinja2 environment of ``streamjobs/web/templates``."""

NAVIGATION = (
    ("/", "Overview"),
    ("/runs", "Runs"),
    ("/dlq", "Dead letters"),
    ("/endpoints", "Endpoints"),
    ("/schedules", "Schedules"),
)
"""The links of every page's header."""


def when(moment: datetime | None) -> str:
    """``moment`` in UTC to the second, ``-`` for none."""
    if moment is None:
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def render(
    request: web.Request, template: str, *, status: int = 200, **context: Any
) -> web.Response:
    """The page ``template`` rendered with ``context``, the navigation and the csrf token."""
    page = (
        request.app[TEMPLATES]
        .get_template(template)
        .render(
            request=request,
            navigation=NAVIGATION,
            csrf=security.csrf_token(request),
            csrf_field=security.CSRF_FIELD,
            signed_in=request.app[SETTINGS].dashboard_token is not None,
            **context,
        )
    )
    return web.Response(text=page, status=status, content_type="text/html")


def refuse(request: web.Request, status: int, reason: str) -> web.StreamResponse:
    """A 401 (the login form) or a 403 page saying why."""
    if status == 401:
        response = render(request, "login.html", status=401, reason=reason, error=None)
        response.headers["WWW-Authenticate"] = 'Bearer realm="streamjobs"'
        return response
    return render(request, "error.html", status=status, title="Refused", reason=reason)


async def in_thread(function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``function(*args, **kwargs)`` in a worker thread."""
    return await asyncio.to_thread(partial(function, *args, **kwargs))


async def in_db(
    request: web.Request, function: Callable[..., T], /, *args: Any, **kwargs: Any
) -> T:
    """``function(connection, *args, **kwargs)`` on a pooled connection, in a worker thread.

    Raises:
        ServiceUnavailable: PostgreSQL did not answer.
        OperationRefused: it refused the statement (not migrated, say).
    """
    settings, engine = request.app[SETTINGS], request.app[ENGINE]

    def work() -> T:
        with failures_reported(settings), engine.connect() as connection:
            return function(connection, *args, **kwargs)

    return await asyncio.to_thread(work)


def topics_by_job(request: web.Request) -> dict[str, TopicSet]:
    """Each job's topic set in this environment, by job name."""
    return {t.spec.job: t for t in all_topic_sets(request.app[SETTINGS])}

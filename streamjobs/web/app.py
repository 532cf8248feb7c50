"""The job view's aiohttp application: its middlewares, templates, clients and routes.

``make_app(settings)`` builds it; the views (``streamjobs.web.views``) add
their routes. Handlers read the database and Kafka through ``pages.in_db``
and ``pages.in_thread``, so blocking clients never stall the loop. A failure of a
service (``StreamjobsError``) becomes a 503 page naming it; anything else is
a 500 page with the exception's class only, since a message might quote a
payload.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from confluent_kafka import KafkaException

from producers.publisher import Publisher
from streamjobs.database import sync_engine
from streamjobs.errors import StreamjobsError
from streamjobs.redact import mask_url
from streamjobs.settings import Settings
from streamjobs.web import security
from streamjobs.web.pages import (
    ENGINE,
    PUBLISHER,
    SETTINGS,
    TEMPLATES,
    refuse,
    render,
    when,
)
from streamjobs.web.views import VIEWS

logger = logging.getLogger("streamjobs.web")


def make_app(settings: Settings) -> web.Application:
    """The application, its engine and publisher opened on start and closed on cleanup."""
    app = web.Application(
        middlewares=[_failures_as_pages, security.middleware(settings.dashboard_token, refuse)],
        client_max_size=64 * 1024,
    )
    app[SETTINGS] = settings
    app[TEMPLATES] = _templates()
    app.cleanup_ctx.append(_clients)
    for view in VIEWS:
        view.add_routes(app.router)
    app.router.add_static("/static", str(Path(__file__).parent / "static"))
    return app


def _templates() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("streamjobs.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["when"] = when
    environment.filters["iso"] = lambda moment: moment.isoformat(timespec="seconds")
    environment.filters["epoch_ms"] = _epoch_ms
    environment.filters["mask_url"] = mask_url
    environment.filters["ms"] = lambda value: "-" if value is None else f"{value:.0f} ms"
    return environment


def _epoch_ms(text: str) -> str:
    """A header's epoch milliseconds as a time; ``-`` when it is not a number."""
    if not text.isdigit():
        return "-"
    return when(datetime.fromtimestamp(int(text) / 1000, UTC))


async def _clients(app: web.Application) -> Any:
    settings = app[SETTINGS]
    app[ENGINE] = sync_engine(settings)
    app[PUBLISHER] = Publisher(settings)
    yield
    await asyncio.to_thread(app[PUBLISHER].close)
    app[ENGINE].dispose()


@web.middleware
async def _failures_as_pages(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except StreamjobsError as exc:
        return render(request, "error.html", status=503, title="Unavailable", reason=str(exc))
    except KafkaException as exc:
        reason = f"Kafka refused: {exc.args[0].str()}"
        return render(request, "error.html", status=503, title="Unavailable", reason=reason)
    except Exception as exc:
        logger.exception("job view error", extra={"path": request.path})
        reason = f"unexpected {type(exc).__name__} (a bug; see the log)"
        return render(request, "error.html", status=500, title="Error", reason=reason)

"""``/runs`` (filtered and searched) and ``/run`` (one run's payload and every attempt)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from producers.dlq import parse_instant
from streamjobs.web import history
from streamjobs.web.pages import SETTINGS, in_db, in_thread, render, topics_by_job
from streamjobs.web.payloads import Payload, position_of, read_payload


def add_routes(router: web.UrlDispatcher) -> None:
    """``GET /runs`` and ``GET /run``."""
    router.add_get("/runs", listing)
    router.add_get("/run", detail)


def parse_filters(query: MultiMapping[str]) -> history.Filters:
    """The filters of a ``/runs`` query string; empty fields are unset.

    Raises:
        ValueError: a field is not one of its values, a UUID or a time; the message says so.
    """

    def field(name: str) -> str | None:
        return (query.get(name) or "").strip() or None

    job, outcome = field("job"), field("outcome")
    if job is not None and job not in history.JOBS:
        raise ValueError(f"job must be one of {', '.join(history.JOBS)}")
    if outcome is not None and outcome not in history.OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(history.OUTCOMES)}")
    return history.Filters(
        job=job,
        outcome=outcome,
        endpoint=_uuid(field("endpoint")),
        since=_time(field("since")),
        until=_time(field("until")),
        q=field("q"),
    )


def _uuid(text: str | None) -> uuid.UUID | None:
    if text is None:
        return None
    try:
        return uuid.UUID(text)
    except ValueError:
        raise ValueError("endpoint must be a webhook id (a UUID)") from None


def _time(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.fromtimestamp(parse_instant(text) / 1000, UTC)


async def listing(request: web.Request) -> web.StreamResponse:
    """The runs the query string keeps, newest first."""
    try:
        filters = parse_filters(request.query)
    except ValueError as exc:
        return _listed(request, [], history.Filters(), str(exc), status=400)
    found = await in_db(request, history.runs, filters, topics_by_job(request))
    return _listed(request, found, filters, None)


def _listed(
    request: web.Request,
    found: list[history.Run],
    filters: history.Filters,
    error: str | None,
    *,
    status: int = 200,
) -> web.Response:
    return render(
        request,
        "runs.html",
        status=status,
        runs=found,
        query=request.query,
        jobs=history.JOBS,
        outcomes=history.OUTCOMES,
        filters=filters,
        error=error,
        limit=history.MAX_RUNS,
    )


async def detail(request: web.Request) -> web.StreamResponse:
    """One run: its payload (secrets masked) and every attempt."""
    job = request.query.get("job", "")
    event_id = request.query.get("event_id", "")
    if job not in history.JOBS or not event_id:
        raise web.HTTPBadRequest(text="job and event_id are required")
    if job == "webhook":
        context = await _webhook(request, event_id)
    elif job == "cleanup":
        context = await _cleanup(request, event_id)
    else:
        context = await _email(request, job, event_id)
    if not any(context.get(name) for name in ("attempts", "chunks", "run")):
        raise web.HTTPNotFound(text=f"no {job} run with event id {event_id}")
    return render(request, "run.html", job=job, event_id=event_id, **context)


async def _webhook(request: web.Request, event_id: str) -> dict[str, Any]:
    endpoint = _uuid_or_404(request.query.get("endpoint", ""))
    rows = await in_db(request, history.webhook_attempts, event_id, endpoint)
    if not rows:
        return {}
    everything = topics_by_job(request)
    topics = everything["webhook"]
    listed = await in_db(
        request,
        history.runs,
        history.Filters(job="webhook", q=event_id, endpoint=endpoint),
        everything,
    )
    attempts = [
        {
            "row": row,
            "started_by": history.started_by(row.attempt, row.topic),
            "next_due": history.next_attempt_due(row.outcome, row.topic, row.created_at, topics),
        }
        for row in rows
    ]
    first = rows[0]
    payload = (
        await in_thread(
            read_payload, request.app[SETTINGS], first.topic, first.partition, first.offset
        )
        if first.topic is not None
        else Payload(problem="the attempt logged no Kafka position")
    )
    return {
        "attempts": attempts,
        "endpoint": endpoint,
        "payload": payload,
        "outcome": next(run.outcome for run in listed if run.event_id == event_id),
        "jitter": request.app[SETTINGS].retry_jitter,
    }


async def _email(request: web.Request, job: str, event_id: str) -> dict[str, Any]:
    rows = await in_db(request, history.email_chunks, event_id, single=job == "email")
    main = topics_by_job(request)[job].main
    position = position_of(event_id, main)
    if position is None:
        payload = Payload(problem="its producer named the event, so no Kafka position is known")
    else:
        payload = await in_thread(read_payload, request.app[SETTINGS], main, *position)
    return {"chunks": rows, "payload": payload}


def _uuid_or_404(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise web.HTTPNotFound(text="endpoint must be a webhook id") from None


async def _cleanup(request: web.Request, event_id: str) -> dict[str, Any]:
    found = await in_db(request, history.cleanup_runs, event_id=event_id, limit=1)
    if not found:
        return {}
    run = found[0]
    return {
        "run": run,
        "outcome": run["class"],
        "payload": Payload(text=json.dumps(run.result, indent=2)),
    }

"""What the job view reads from PostgreSQL: runs, attempts, endpoint health, cleanup history.

A *run* is one event's work for one job: a webhook event for one endpoint
(its attempts are ``webhook_deliveries`` rows), an email event (its chunks
are ``email_deliveries`` rows; chunk 0 is ``email``, chunks from 1 are
``email-batch``), or one ``job_runs`` row of the cleanup. Runs are
classified as ``succeeded``, ``retrying``, ``failed`` or ``running``.

Every function takes a connection and runs plain reads; none writes.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Connection, text

from consumers.webhook.outcomes import PENDING
from schemas.topics import RETRY_SUFFIX, TopicSet

WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
"""The overview's count windows, by label."""

OUTCOMES = ("succeeded", "retrying", "failed", "running")
"""Run classes, as the filters name them."""

JOBS = ("webhook", "email", "email-batch", "cleanup")
"""The jobs with a history, in the overview's order."""

MAX_RUNS = 200
"""Most runs one list shows."""

DURATION_WINDOW = "24h"
"""The window p50 and p95 durations are taken over."""


@dataclass(frozen=True, kw_only=True)
class Filters:
    """What a run list keeps; an unset criterion keeps every run.

    Args:
        job: one of ``JOBS`` (default: all).
        outcome: one of ``OUTCOMES``.
        endpoint: a webhook id (webhook runs only).
        since: runs whose last activity is at or after it.
        until: runs whose last activity is at or before it.
        q: an event id, webhook id or Resend email id.
    """

    job: str | None = None
    outcome: str | None = None
    endpoint: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None
    q: str | None = None


@dataclass(frozen=True, kw_only=True)
class Run:
    """One run in a list.

    Args:
        job: the job.
        event_id: the event's id (the cleanup's event id for a cleanup run).
        endpoint: the webhook id of a webhook run.
        outcome: its class, one of ``OUTCOMES``.
        attempts: attempts (webhook), chunk rows (email) or 1 (cleanup).
        first_at: its first activity.
        last_at: its latest activity.
    """

    job: str
    event_id: str
    endpoint: uuid.UUID | None
    outcome: str
    attempts: int
    first_at: datetime
    last_at: datetime | None

    @property
    def detail(self) -> str:
        """Query string of the run's detail page."""
        fields = {"job": self.job, "event_id": self.event_id}
        if self.endpoint is not None:
            fields["endpoint"] = str(self.endpoint)
        return urlencode(fields)


def started_by(attempt: int, topic: str | None) -> str:
    """What started an attempt: a delay topic means a retry; a later attempt on the main
    topic was re-sent from the DLQ (attempt numbers continue past a replay)."""
    if topic is not None and RETRY_SUFFIX in topic:
        return "retry"
    return "first attempt" if attempt == 1 else "replay"


def next_attempt_due(
    outcome: str, topic: str | None, created_at: datetime, topics: TopicSet
) -> datetime | None:
    """The earliest start of the attempt after a retryable one (jitter and Retry-After can
    only make it later); None when no attempt follows."""
    if outcome != "retryable" or topic is None:
        return None
    tier = 0 if topic == topics.main else int(topic.rsplit(".", 1)[-1])
    if tier >= len(topics.delays):
        return None
    return created_at + timedelta(seconds=topics.delays[tier])


_CLEANUP_CLASS = """CASE WHEN finished_at IS NOT NULL AND outcome = 'ok' THEN 'succeeded'
  WHEN finished_at IS NOT NULL OR outcome = 'error' THEN 'failed' ELSE 'running' END"""
"""A ``job_runs`` row's class: finished ok, failed (finished otherwise, or an attempt erred),
or running."""

_RUNS = {
    # A retryable failure read from the last delay topic went to the DLQ: failed.
    # A pending attempt is in flight (or was cut short by a crash, until redone).
    "webhook": f"""
SELECT event_id, webhook_id AS endpoint, attempts, first_at, last_at,
  CASE WHEN last_outcome = 'success' THEN 'succeeded'
       WHEN last_outcome = '{PENDING}' THEN 'running'
       WHEN last_outcome = 'fatal' OR last_topic = :final_topic THEN 'failed'
       ELSE 'retrying' END AS class
FROM (
  SELECT event_id, webhook_id, count(*) AS attempts, min(created_at) AS first_at,
         max(created_at) AS last_at,
         (array_agg(outcome ORDER BY attempt DESC))[1] AS last_outcome,
         (array_agg(topic ORDER BY attempt DESC))[1] AS last_topic
  FROM webhook_deliveries
  WHERE (CAST(:q AS text) IS NULL OR event_id = :q OR CAST(webhook_id AS text) = :q)
    AND (CAST(:endpoint AS uuid) IS NULL OR webhook_id = :endpoint)
    AND (CAST(:after AS timestamptz) IS NULL OR created_at >= :after)
  GROUP BY event_id, webhook_id
) AS grouped""",
    # A chunk is done once a row says sent or rejected; a failed row of a chunk
    # not done means the email is still being retried (or was dead-lettered).
    "email": """
SELECT event_id, CAST(NULL AS uuid) AS endpoint, count(*) AS attempts,
  min(created_at) AS first_at, max(created_at) AS last_at,
  CASE WHEN bool_or(outcome = 'failed' AND NOT done) THEN 'retrying'
       WHEN bool_or(outcome = 'rejected') THEN 'failed' ELSE 'succeeded' END AS class
FROM (
  SELECT e.*, EXISTS (
    SELECT 1 FROM email_deliveries d WHERE d.event_id = e.event_id AND d.chunk = e.chunk
      AND d.outcome IN ('sent', 'rejected')) AS done
  FROM email_deliveries e
  WHERE (e.chunk = 0) = :single
    AND (CAST(:after AS timestamptz) IS NULL OR e.created_at >= :after)
) AS chunks
GROUP BY event_id
HAVING CAST(:q AS text) IS NULL OR event_id = :q OR bool_or(:q = ANY(resend_ids))""",
    "cleanup": f"""
SELECT coalesce(result ->> 'event_id', CAST(id AS text)) AS event_id,
  CAST(NULL AS uuid) AS endpoint, 1 AS attempts, started_at AS first_at,
  finished_at AS last_at, {_CLEANUP_CLASS} AS class
FROM job_runs
WHERE job = 'cleanup'
  AND (CAST(:q AS text) IS NULL OR result ->> 'event_id' = :q)
  AND (CAST(:after AS timestamptz) IS NULL OR started_at >= :after)""",
}
"""Per job, one row per run: event_id, endpoint, attempts, first_at, last_at, class."""

_RUNS["email-batch"] = _RUNS["email"]  # the same table; ``:single`` tells the chunks apart

_LIST = """
SELECT * FROM ({runs}) AS runs
WHERE (CAST(:outcome AS text) IS NULL OR class = :outcome)
  AND (CAST(:since AS timestamptz) IS NULL OR coalesce(last_at, first_at) >= :since)
  AND (CAST(:until AS timestamptz) IS NULL OR coalesce(last_at, first_at) <= :until)
ORDER BY coalesce(last_at, first_at) DESC LIMIT :limit
"""

_COUNTS = """
SELECT class, {windows} FROM ({runs}) AS runs
WHERE coalesce(last_at, first_at) >= :after GROUP BY class
"""


def _parameters(job: str, topics: TopicSet, **values: Any) -> dict[str, Any]:
    """Every parameter of ``_RUNS[job]``: unset criteria as None."""
    final = topics.retries[-1] if topics.retries else topics.main
    unset = {"q": None, "endpoint": None, "after": None}
    return unset | {"final_topic": final, "single": job == "email"} | values


def runs(
    connection: Connection, filters: Filters, topics: dict[str, TopicSet], *, limit: int = MAX_RUNS
) -> list[Run]:
    """The runs ``filters`` keeps, newest activity first, at most ``limit``.

    Args:
        connection: the database.
        filters: the criteria.
        topics: the topic set of each job, by job (classifies webhook runs).
        limit: most runs returned (default ``MAX_RUNS``).
    """
    found: list[Run] = []
    for job in JOBS:
        if filters.job not in (None, job) or (filters.endpoint is not None and job != "webhook"):
            continue
        criteria = {name: value for name, value in asdict(filters).items() if name != "job"}
        values = _parameters(job, topics[job], limit=limit, **criteria)
        rows = connection.execute(text(_LIST.format(runs=_RUNS[job])), values).mappings()
        found += [
            Run(
                job=job,
                event_id=row["event_id"],
                endpoint=row["endpoint"],
                outcome=row["class"],
                attempts=row["attempts"],
                first_at=row["first_at"],
                last_at=row["last_at"],
            )
            for row in rows
        ]
    found.sort(key=lambda run: run.last_at or run.first_at, reverse=True)
    return found[:limit]


@dataclass(frozen=True, kw_only=True)
class JobFigures:
    """One overview row's history figures.

    Args:
        job: the job.
        counts: runs per class, per window label of ``WINDOWS``.
        p50_ms: median duration over ``DURATION_WINDOW`` (None: no duration known).
        p95_ms: 95th percentile of the same.
    """

    job: str
    counts: dict[str, dict[str, int]]
    p50_ms: float | None
    p95_ms: float | None

    def failed_in(self, window: str) -> bool:
        """Whether a run failed within ``window``."""
        return self.counts[window].get("failed", 0) > 0


def figures(connection: Connection, now: datetime, topics: dict[str, TopicSet]) -> list[JobFigures]:
    """Runs by class over each window, and the durations, of every job of ``JOBS``."""
    windows = ", ".join(
        f'count(*) FILTER (WHERE coalesce(last_at, first_at) >= :w{n}) AS "{label}"'
        for n, label in enumerate(WINDOWS)
    )
    edges = {f"w{n}": now - span for n, span in enumerate(WINDOWS.values())}
    result = []
    for job in JOBS:
        query = text(_COUNTS.format(windows=windows, runs=_RUNS[job]))
        values = _parameters(job, topics[job], after=now - max(WINDOWS.values())) | edges
        counts: dict[str, dict[str, int]] = {label: {} for label in WINDOWS}
        for row in connection.execute(query, values).mappings():
            for label in WINDOWS:
                counts[label][row["class"]] = row[label]
        p50, p95 = _durations(connection, job, now - WINDOWS[DURATION_WINDOW])
        result.append(JobFigures(job=job, counts=counts, p50_ms=p50, p95_ms=p95))
    return result


_DURATIONS = {  # a pending attempt has no duration yet
    "webhook": "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms),"
    " percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms)"
    f" FROM webhook_deliveries WHERE created_at >= :since AND outcome <> '{PENDING}'",
    "cleanup": "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d),"
    " percentile_cont(0.95) WITHIN GROUP (ORDER BY d) FROM ("
    " SELECT extract(epoch FROM finished_at - started_at) * 1000 AS d FROM job_runs"
    " WHERE job = 'cleanup' AND finished_at IS NOT NULL AND started_at >= :since) AS runs",
}
"""Duration percentiles per job; email rows carry no duration."""


def _durations(connection: Connection, job: str, since: datetime) -> tuple[float | None, ...]:
    if job not in _DURATIONS:
        return (None, None)
    return tuple(connection.execute(text(_DURATIONS[job]), {"since": since}).one())


def webhook_attempts(connection: Connection, event_id: str, endpoint: uuid.UUID) -> list[Any]:
    """Every attempt of one webhook run, in attempt order."""
    return list(
        connection.execute(
            text(
                "SELECT * FROM webhook_deliveries WHERE event_id = :event AND webhook_id = :hook"
                " ORDER BY attempt"
            ),
            {"event": event_id, "hook": endpoint},
        )
    )


def email_chunks(connection: Connection, event_id: str, *, single: bool) -> list[Any]:
    """Every ``email_deliveries`` row of one email run, by chunk and time."""
    return list(
        connection.execute(
            text(
                "SELECT * FROM email_deliveries WHERE event_id = :event AND (chunk = 0) = :single"
                " ORDER BY chunk, created_at, id"
            ),
            {"event": event_id, "single": single},
        )
    )


_CLEANUP_ROWS = f"""
SELECT *, {_CLEANUP_CLASS} AS class FROM job_runs
WHERE job = 'cleanup' AND (CAST(:q AS text) IS NULL OR result ->> 'event_id' = :q)
ORDER BY started_at DESC, id DESC LIMIT :limit
"""


def cleanup_runs(
    connection: Connection, *, event_id: str | None = None, limit: int = 50
) -> list[Any]:
    """The newest cleanup ``job_runs`` rows (or the one of ``event_id``), each with its class."""
    query = text(_CLEANUP_ROWS)
    return list(connection.execute(query, {"q": event_id, "limit": limit}).mappings())


@dataclass(frozen=True, kw_only=True)
class Health:
    """An endpoint's delivery record.

    Args:
        attempts: attempts logged with an outcome (pending ones apart).
        successes: of which succeeded.
        pending: attempts in flight, or cut short by a crash and not redone yet.
        last_success_at: the newest success.
        consecutive_failures: failed attempts since the newest success.
    """

    attempts: int = 0
    successes: int = 0
    pending: int = 0
    last_success_at: datetime | None = None
    consecutive_failures: int = 0

    @property
    def success_rate(self) -> float | None:
        """Successes over attempts; None before the first."""
        return None if self.attempts == 0 else self.successes / self.attempts


_HEALTH = f"""
WITH s AS (
  SELECT webhook_id, count(*) FILTER (WHERE outcome <> '{PENDING}') AS attempts,
         count(*) FILTER (WHERE outcome = 'success') AS ok,
         count(*) FILTER (WHERE outcome = '{PENDING}') AS pending,
         max(created_at) FILTER (WHERE outcome = 'success') AS last_ok
  FROM webhook_deliveries GROUP BY webhook_id
)
SELECT s.*, (SELECT count(*) FROM webhook_deliveries d WHERE d.webhook_id = s.webhook_id
             AND d.outcome NOT IN ('success', '{PENDING}')
             AND d.created_at > coalesce(s.last_ok, '-infinity')) AS streak
FROM s
"""


def endpoint_health(connection: Connection) -> dict[uuid.UUID, Health]:
    """Every endpoint's record, by webhook id (endpoints never attempted are absent)."""
    return {
        row.webhook_id: Health(
            attempts=row.attempts,
            successes=row.ok,
            pending=row.pending,
            last_success_at=row.last_ok,
            consecutive_failures=row.streak,
        )
        for row in connection.execute(text(_HEALTH))
    }

"""The ``job_runs`` row of a cleanup run: claimed once per slot, counted per batch, finished once.

The row is the run's memory. It is unique on (job, scheduled_for), so every
delivery of one slot's event (a redelivery, a retry, a second scheduler's
copy) finds the same row. It stores the cutoff chosen by the first delivery
and running counts that each batch updates in its own transaction, so a run
that crashed resumes where it stopped and counts every deleted row once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select, update
from sqlalchemy.dialects.postgresql import insert

from schemas.tables import job_runs, system_logs
from schemas.topics import AUDIT_CLEANUP

JOB = AUDIT_CLEANUP.job
"""The ``job_runs.job`` value of cleanup runs (the scheduler reads it too)."""

LOG_SOURCE = "streamjobs.cleanup"
"""The ``system_logs.source`` of the result row."""

RUNNING, OK, ERROR = "running", "ok", "error"
"""``job_runs.outcome`` while a run is under way, after it finished, after a failed attempt."""


@dataclass(frozen=True, kw_only=True)
class Run:
    """One slot's run as stored.

    Args:
        id: the ``job_runs`` id.
        scheduled_for: the slot.
        trigger: ``schedule`` or ``manual``, from the first delivery.
        started_at: when the first delivery claimed it.
        finished: True once the result row is written.
        result: the ``result`` document: ``cutoff``, ``retention_days``,
            ``event_id`` and ``deleted`` counts per table.
    """

    id: int
    scheduled_for: datetime
    trigger: str
    started_at: datetime
    finished: bool
    result: dict[str, Any]

    @property
    def cutoff(self) -> datetime:
        """Rows created before this instant are deleted."""
        return datetime.fromisoformat(self.result["cutoff"])

    @property
    def deleted(self) -> dict[str, int]:
        """Rows deleted so far, per table."""
        counts: dict[str, int] = self.result["deleted"]
        return counts


def claim_run(
    connection: Connection,
    *,
    scheduled_for: datetime,
    retention_days: int,
    trigger: str,
    event_id: str,
) -> Run:
    """The slot's run: created by the first delivery, found by every later one.

    Args:
        connection: runs in its own transaction.
        scheduled_for: the slot; the cutoff is ``retention_days`` before it.
        retention_days: days of logs kept (used only when the run is new).
        trigger: ``schedule`` or ``manual`` (used only when the run is new).
        event_id: the event that created it, kept in the result.
    """
    cutoff = scheduled_for - timedelta(days=retention_days)
    result = {
        "cutoff": cutoff.isoformat(),
        "retention_days": retention_days,
        "event_id": event_id,
        "deleted": {"audit_logs": 0, "system_logs": 0},
    }
    with connection.begin():
        connection.execute(
            insert(job_runs)
            .values(
                job=JOB,
                scheduled_for=scheduled_for,
                trigger=trigger,
                outcome=RUNNING,
                result=result,
            )
            .on_conflict_do_nothing(constraint="uq_job_runs_job_scheduled_for")
        )
        return _select_run(connection, scheduled_for=scheduled_for)


def read_run(connection: Connection, *, scheduled_for: datetime) -> Run:
    """The run of ``scheduled_for``, which must exist, read in a transaction of its own."""
    with connection.begin():
        return _select_run(connection, scheduled_for=scheduled_for)


def _select_run(connection: Connection, *, scheduled_for: datetime) -> Run:
    row = connection.execute(
        select(job_runs).where(job_runs.c.job == JOB, job_runs.c.scheduled_for == scheduled_for)
    ).one()
    return Run(
        id=row.id,
        scheduled_for=row.scheduled_for,
        trigger=row.trigger,
        started_at=row.started_at,
        finished=row.finished_at is not None,
        result=row.result,
    )


def mark_running(connection: Connection, run: Run) -> None:
    """Note that an attempt is (again) at work on ``run``."""
    with connection.begin():
        connection.execute(update(job_runs).where(job_runs.c.id == run.id).values(outcome=RUNNING))


def finish_run(connection: Connection, run: Run, *, message: str) -> dict[str, Any] | None:
    """Close ``run`` and write its ``system_logs`` result row, both or neither.

    Returns:
        The final result document, or None when another attempt finished the
        run first (then nothing is written).
    """
    with connection.begin():
        current = connection.execute(
            select(job_runs.c.result, func.now() - job_runs.c.started_at)
            .where(job_runs.c.id == run.id, job_runs.c.finished_at.is_(None))
            .with_for_update()
        ).first()
        if current is None:
            return None
        result: dict[str, Any] = current[0] | {
            "duration_ms": round(current[1].total_seconds() * 1000),
            "trigger": run.trigger,
            "scheduled_for": run.scheduled_for.isoformat(),
        }
        connection.execute(
            update(job_runs)
            .where(job_runs.c.id == run.id)
            .values(finished_at=func.now(), outcome=OK, result=result)
        )
        connection.execute(
            system_logs.insert().values(
                level="info", source=LOG_SOURCE, message=message, context=result
            )
        )
        return result


def fail_run(connection: Connection, run: Run, *, error: str) -> None:
    """Record a failed attempt; the run stays open, so the next attempt resumes it."""
    with connection.begin():
        connection.execute(
            update(job_runs)
            .where(job_runs.c.id == run.id, job_runs.c.finished_at.is_(None))
            .values(
                outcome=ERROR,
                result=job_runs.c.result.op("||")(func.jsonb_build_object("last_error", error)),
            )
        )

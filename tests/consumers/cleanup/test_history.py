"""The daily cleanup trims the job view's history: deliveries and runs older than
``HISTORY_RETENTION`` before the slot go, newer ones and the run itself stay."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert, select

from consumers.cleanup.job import CleanupHandler
from consumers.cleanup.monitor import Monitor
from consumers.job import Context
from schemas.events import AuditCleanup
from schemas.tables import email_deliveries, job_runs, webhook_deliveries
from streamjobs.settings import Settings

SLOT = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
RETENTION = timedelta(days=30)
OLD = SLOT - RETENTION - timedelta(seconds=1)
KEPT = SLOT - RETENTION + timedelta(seconds=1)


def seed(db: Engine) -> None:
    """One row a second older and one a second newer than the cutoff, in each history table."""
    hook = uuid.uuid4()
    with db.begin() as connection:
        for n, moment in enumerate((OLD, KEPT)):
            connection.execute(
                insert(webhook_deliveries).values(
                    event_id=f"e{n}",
                    webhook_id=hook,
                    attempt=1,
                    outcome="success",
                    created_at=moment,
                )
            )
            connection.execute(
                insert(email_deliveries).values(
                    event_id=f"e{n}", chunk=0, outcome="sent", created_at=moment
                )
            )
            connection.execute(
                insert(job_runs).values(
                    job="cleanup",
                    scheduled_for=moment,
                    trigger="schedule",
                    started_at=moment,
                    finished_at=moment,
                    outcome="ok",
                    result={},
                )
            )


def clean(
    db: Engine, settings: Settings, *, history_retention: float | None, slot: datetime = SLOT
) -> None:
    """Run ``slot`` with one row per batch, so trimming takes several batches."""
    cleanup = CleanupHandler(
        engine=db,
        retention_days=90,
        batch_size=1,
        lock_timeout=0.5,
        monitor=Monitor(settings),
        history_retention=history_retention,
    )
    context = Context(
        event_id="audit.cleanup:2026-11-30",
        attempt=1,
        max_attempts=3,
        topic="audit.cleanup",
        partition=0,
        offset=0,
    )
    asyncio.run(cleanup(AuditCleanup(scheduled_for=slot), context))


def test_history_older_than_the_retention_before_the_slot_goes_and_is_counted(
    db: Engine, settings: Settings
) -> None:
    seed(db)
    clean(db, settings, history_retention=RETENTION.total_seconds())
    with db.connect() as connection:
        for table in (webhook_deliveries, email_deliveries):
            assert connection.execute(select(table.c.created_at)).scalars().all() == [KEPT]
        started = connection.execute(
            select(job_runs.c.scheduled_for).order_by(job_runs.c.scheduled_for)
        ).scalars()
        assert list(started) == [KEPT, SLOT]
        (result,) = connection.execute(
            select(job_runs.c.result).where(job_runs.c.scheduled_for == SLOT)
        ).scalars()
    deleted = result["deleted"]
    assert [deleted[t.name] for t in (webhook_deliveries, email_deliveries, job_runs)] == [1, 1, 1]


def test_without_a_history_retention_the_history_is_left_alone(
    db: Engine, settings: Settings
) -> None:
    seed(db)
    clean(db, settings, history_retention=None)
    with db.connect() as connection:
        assert len(connection.execute(select(webhook_deliveries.c.id)).all()) == 2


def test_a_slot_in_the_future_counts_back_from_its_start_and_keeps_its_own_run(
    db: Engine, settings: Settings
) -> None:
    seed(db)
    future = datetime.now(UTC).replace(microsecond=0) + timedelta(days=400)
    clean(db, settings, history_retention=RETENTION.total_seconds(), slot=future)
    with db.connect() as connection:
        (run,) = connection.execute(select(job_runs.c.scheduled_for, job_runs.c.outcome)).all()
    assert tuple(run) == (future, "ok")

"""The cleanup handler on the real database: what it deletes, what it records, idempotence."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, create_engine

from consumers.cleanup.batches import TABLES, delete_batch, try_lock, unlock
from consumers.cleanup.codes import E_BUSY, E_DATABASE
from consumers.cleanup.job import CleanupHandler, result_message
from consumers.cleanup.monitor import Monitor
from consumers.cleanup.runs import claim_run, read_run
from consumers.job import Context
from schemas.events import AuditCleanup
from schemas.tables import audit_logs, system_logs
from streamjobs.errors import RetryableError
from streamjobs.settings import Settings
from tests.consumers.cleanup.support import add_rows, results, runs, stamps

SLOT = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
CUTOFF = SLOT - timedelta(days=90)
SECOND = timedelta(seconds=1)


def handler(db: Engine, settings: Settings, *, batch_size: int = 10_000) -> CleanupHandler:
    return CleanupHandler(
        engine=db,
        retention_days=90,
        batch_size=batch_size,
        lock_timeout=0.5,
        monitor=Monitor(settings),
    )


def context(event_id: str = "audit.cleanup:2026-11-30") -> Context:
    return Context(
        event_id=event_id, attempt=1, max_attempts=3, topic="audit.cleanup", partition=0, offset=0
    )


def run(cleanup: CleanupHandler, event: AuditCleanup, event_id: str | None = None) -> None:
    asyncio.run(cleanup(event, context() if event_id is None else context(event_id)))


@pytest.fixture
def old_and_new(db: Engine) -> Iterator[Engine]:
    for table in TABLES:
        add_rows(db, table, CUTOFF - SECOND, CUTOFF - timedelta(days=400), CUTOFF + SECOND)
    yield db


def test_rows_a_second_older_than_the_cutoff_go_and_a_second_newer_stay_in_both_tables(
    old_and_new: Engine, settings: Settings
) -> None:
    run(handler(old_and_new, settings), AuditCleanup(scheduled_for=SLOT))
    assert stamps(old_and_new, audit_logs) == [CUTOFF + SECOND]
    assert stamps(old_and_new, system_logs) == [CUTOFF + SECOND]


def test_the_result_row_and_the_run_hold_the_counts_cutoff_duration_and_trigger(
    old_and_new: Engine, settings: Settings
) -> None:
    run(handler(old_and_new, settings), AuditCleanup(scheduled_for=SLOT, trigger="manual"))
    (result,) = results(old_and_new)
    assert result["deleted"] == {"audit_logs": 2, "system_logs": 2}
    assert datetime.fromisoformat(result["cutoff"]) == CUTOFF
    assert result["trigger"] == "manual"
    assert result["retention_days"] == 90
    assert result["duration_ms"] >= 0
    (job_run,) = runs(old_and_new)
    assert (job_run.job, job_run.scheduled_for, job_run.trigger) == ("cleanup", SLOT, "manual")
    assert job_run.outcome == "ok"
    assert job_run.finished_at >= job_run.started_at
    assert job_run.result == result


def test_small_batches_delete_everything_old_and_count_it_once(
    db: Engine, settings: Settings
) -> None:
    add_rows(db, audit_logs, *(CUTOFF - timedelta(minutes=n) for n in range(1, 11)))
    add_rows(db, system_logs, *(CUTOFF - timedelta(minutes=n) for n in range(1, 4)))
    run(handler(db, settings, batch_size=3), AuditCleanup(scheduled_for=SLOT))
    assert stamps(db, audit_logs) == stamps(db, system_logs) == []
    assert results(db)[0]["deleted"] == {"audit_logs": 10, "system_logs": 3}


def test_the_events_retention_overrides_the_default_and_counts_from_scheduled_for(
    db: Engine, settings: Settings
) -> None:
    add_rows(db, audit_logs, SLOT - timedelta(days=7) - SECOND, SLOT - timedelta(days=7) + SECOND)
    run(handler(db, settings), AuditCleanup(scheduled_for=SLOT, retention_days=7))
    assert stamps(db, audit_logs) == [SLOT - timedelta(days=7) + SECOND]
    assert results(db)[0]["retention_days"] == 7


def test_a_redelivered_event_deletes_nothing_more_and_writes_no_second_result(
    old_and_new: Engine, settings: Settings
) -> None:
    cleanup = handler(old_and_new, settings)
    run(cleanup, AuditCleanup(scheduled_for=SLOT))
    add_rows(old_and_new, audit_logs, CUTOFF - SECOND)
    run(cleanup, AuditCleanup(scheduled_for=SLOT))
    run(cleanup, AuditCleanup(scheduled_for=SLOT, retention_days=1), "a-second-scheduler")
    assert stamps(old_and_new, audit_logs) == [CUTOFF - SECOND, CUTOFF + SECOND]
    assert len(results(old_and_new)) == len(runs(old_and_new)) == 1


def test_a_run_interrupted_after_some_batches_resumes_and_counts_each_row_once(
    db: Engine, settings: Settings
) -> None:
    add_rows(db, audit_logs, *(CUTOFF - timedelta(minutes=n) for n in range(1, 8)))
    with db.connect() as connection:
        claimed = claim_run(
            connection, scheduled_for=SLOT, retention_days=90, trigger="schedule", event_id="e"
        )
        assert delete_batch(connection, table=audit_logs, cutoff=CUTOFF, limit=3, run_id=claimed.id)
        assert read_run(connection, scheduled_for=SLOT).deleted["audit_logs"] == 3
    run(handler(db, settings, batch_size=3), AuditCleanup(scheduled_for=SLOT))
    assert stamps(db, audit_logs) == []
    assert results(db)[0]["deleted"] == {"audit_logs": 7, "system_logs": 0}


def test_a_resumed_run_keeps_the_cutoff_its_first_delivery_chose(
    db: Engine, settings: Settings
) -> None:
    with db.connect() as connection:
        claim_run(connection, scheduled_for=SLOT, retention_days=30, trigger="manual", event_id="e")
    add_rows(db, audit_logs, SLOT - timedelta(days=30) - SECOND, SLOT - timedelta(days=30) + SECOND)
    run(handler(db, settings), AuditCleanup(scheduled_for=SLOT))
    assert stamps(db, audit_logs) == [SLOT - timedelta(days=30) + SECOND]


def test_while_another_cleanup_holds_the_lock_the_run_waits_then_retries_as_busy(
    old_and_new: Engine, settings: Settings
) -> None:
    with old_and_new.connect() as holder:
        assert try_lock(holder)
        with pytest.raises(RetryableError) as raised:
            run(handler(old_and_new, settings), AuditCleanup(scheduled_for=SLOT))
        unlock(holder)
    assert raised.value.code == E_BUSY
    assert len(stamps(old_and_new, audit_logs)) == 3
    run(handler(old_and_new, settings), AuditCleanup(scheduled_for=SLOT))
    assert len(results(old_and_new)) == 1


def test_an_unreachable_database_is_a_retryable_failure(settings: Settings) -> None:
    nowhere = create_engine("postgresql+psycopg://streamjobs:x@127.0.0.1:1/none")
    with pytest.raises(RetryableError) as raised:
        run(handler(nowhere, settings), AuditCleanup(scheduled_for=SLOT))
    assert raised.value.code == E_DATABASE
    assert "x@" not in raised.value.message


def test_the_result_message_names_each_tables_count_and_the_cutoff(db: Engine) -> None:
    with db.connect() as connection:
        claimed = claim_run(
            connection, scheduled_for=SLOT, retention_days=90, trigger="schedule", event_id="e"
        )
    message = result_message(claimed)
    assert message == (
        "audit-log cleanup: deleted 0 audit_logs, 0 system_logs rows created before"
        f" {CUTOFF.isoformat()}"
    )

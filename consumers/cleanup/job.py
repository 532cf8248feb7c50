"""The ``audit.cleanup`` job: one run per slot, in short batches, resumable, counted once.

A delivery claims the slot's ``job_runs`` row (see ``runs``); a finished run
makes it a no-op. Otherwise it takes the cleanup lock (one cleanup at a time
in the database; a second waits its turn), deletes old rows of each log table
in batches (see ``batches``), trims the delivery and run history older than
``HISTORY_RETENTION`` before the slot, then closes the run and writes the
``system_logs`` result row in one transaction. Sentry Crons hears of every
run that does work (see ``monitor``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.exc import SQLAlchemyError

from consumers.cleanup.batches import HISTORY_TABLES, TABLES, delete_batch, try_lock, unlock
from consumers.cleanup.codes import E_BUSY, E_DATABASE
from consumers.cleanup.monitor import Monitor
from consumers.cleanup.runs import Run, claim_run, fail_run, finish_run, mark_running, read_run
from consumers.job import Context, Handler, Job
from schemas.events import AuditCleanup
from schemas.topics import AUDIT_CLEANUP
from streamjobs.database import sync_engine
from streamjobs.errors import RetryableError
from streamjobs.settings import Settings

logger = logging.getLogger("streamjobs.cleanup")

LOCK_POLL_INTERVAL = 1.0
"""Seconds between tries for the lock while another cleanup runs."""

BATCH_REST = 1.0
"""Seconds of rest per second of batch work: the application's writers get half the time."""

T = TypeVar("T")


class CleanupHandler:
    """Runs one ``audit.cleanup`` event's slot; see ``consumers.job.Handler``.

    Args:
        engine: the database; each run holds one connection of it.
        retention_days: days kept when the event names none (``CLEANUP_RETENTION_DAYS``).
        batch_size: rows per transaction (``CLEANUP_BATCH_SIZE``).
        lock_timeout: most seconds to wait for another cleanup to end
            (``CLEANUP_MONITOR_MAX_RUNTIME``).
        monitor: the Sentry Crons check-ins.
        history_retention: seconds of delivery and run history kept before the
            slot (``HISTORY_RETENTION``); None leaves the history alone (default).
    """

    def __init__(
        self,
        *,
        engine: Engine,
        retention_days: int,
        batch_size: int,
        lock_timeout: float,
        monitor: Monitor,
        history_retention: float | None = None,
    ) -> None:
        self._engine = engine
        self._history_retention = history_retention
        self._retention_days = retention_days
        self._batch_size = batch_size
        self._lock_timeout = lock_timeout
        self._monitor = monitor

    async def __call__(self, event: AuditCleanup, context: Context) -> None:
        """Run the slot of ``event`` to its end, or do nothing if it ended already.

        Raises:
            RetryableError: the database failed (``E_DATABASE``; the next
                attempt resumes) or another cleanup ran for longer than the
                lock timeout (``E_BUSY``).
        """
        try:
            session = _Session(await asyncio.to_thread(self._engine.connect))
            try:
                await self._run(session, event, context)
            finally:
                await session.call(Connection.close)
        except SQLAlchemyError as exc:
            raise RetryableError(
                f"cleanup of {event.scheduled_for.isoformat()}: database error"
                f" {type(exc).__name__}",
                code=E_DATABASE,
            ) from None

    async def _run(self, session: _Session, event: AuditCleanup, context: Context) -> None:
        run = await session.call(
            claim_run,
            scheduled_for=event.scheduled_for,
            retention_days=event.retention_days or self._retention_days,
            trigger=event.trigger,
            event_id=context.event_id,
        )
        if run.finished:
            _log_done_already(run, context)
            return
        await self._lock(session)
        try:
            run = await session.call(read_run, scheduled_for=run.scheduled_for)
            if run.finished:  # the cleanup we waited for was this one
                _log_done_already(run, context)
                return
            await self._work(session, run)
        finally:
            await _release(session)

    async def _lock(self, session: _Session) -> None:
        deadline = time.monotonic() + self._lock_timeout
        while not await session.call(try_lock):
            if time.monotonic() >= deadline:
                raise RetryableError(
                    f"another cleanup held the lock for over {self._lock_timeout:.0f}s",
                    code=E_BUSY,
                )
            await asyncio.sleep(LOCK_POLL_INTERVAL)

    async def _work(self, session: _Session, run: Run) -> None:
        started = time.monotonic()
        check_in = self._monitor.started()
        try:
            await session.call(mark_running, run=run)
            for table in TABLES:
                await self._empty(session, run, table, run.cutoff)
            if self._history_retention is not None:
                # Never past the run's own start: a slot in the future must not take
                # its own row, nor history younger than the retention.
                history_cutoff = min(run.scheduled_for, run.started_at) - timedelta(
                    seconds=self._history_retention
                )
                for table in HISTORY_TABLES:
                    await self._empty(session, run, table, history_cutoff)
            final = await session.call(read_run, scheduled_for=run.scheduled_for)
            result = await session.call(finish_run, run=run, message=result_message(final))
        except SQLAlchemyError as exc:
            self._monitor.finished(check_in, ok=False, duration=time.monotonic() - started)
            await _record_failure(session, run, exc)
            raise
        self._monitor.finished(check_in, ok=True, duration=time.monotonic() - started)
        logger.info("cleanup finished", extra={"run": run.id, "result": result})

    async def _empty(self, session: _Session, run: Run, table: Table, cutoff: datetime) -> None:
        """Delete batches of ``table`` older than ``cutoff`` until one comes back short,
        resting between batches."""
        limit = self._batch_size
        while True:
            started = time.monotonic()
            deleted = await session.call(
                delete_batch, table=table, cutoff=cutoff, limit=limit, run_id=run.id
            )
            if deleted < limit:
                return
            await asyncio.sleep((time.monotonic() - started) * BATCH_REST)


class _Session:
    """One connection used from worker threads, one call at a time.

    A cancelled call (the runtime abandoning the run at shutdown) still waits
    for its thread, which cannot be stopped, before the next use of the
    connection; a batch is short, so the wait is too.
    """

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    async def call(self, function: Callable[..., T], /, **kwargs: Any) -> T:
        """``function(connection, **kwargs)`` in a worker thread."""
        future = asyncio.ensure_future(asyncio.to_thread(function, self.connection, **kwargs))
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            await asyncio.wait([future])
            raise


async def _release(session: _Session) -> None:
    """Release the lock; a connection that cannot is discarded, which releases it too."""
    try:
        await session.call(unlock)
    except SQLAlchemyError:
        await session.call(Connection.invalidate)
        raise


async def _record_failure(session: _Session, run: Run, exc: SQLAlchemyError) -> None:
    """Note the failed attempt on the run, if the database still answers."""
    try:
        await session.call(fail_run, run=run, error=type(exc).__name__)
    except SQLAlchemyError:
        logger.warning("could not record the failed cleanup attempt", extra={"run": run.id})


def _log_done_already(run: Run, context: Context) -> None:
    logger.info(
        "cleanup already done for this slot; nothing to do",
        extra={"run": run.id, "event_id": context.event_id},
    )


def result_message(run: Run) -> str:
    """The ``system_logs`` message of a finished run, such as ``deleted 12 audit_logs ...``."""
    counts = ", ".join(f"{count} {table}" for table, count in run.deleted.items())
    return f"audit-log cleanup: deleted {counts} rows created before {run.cutoff.isoformat()}"


@asynccontextmanager
async def open_cleanup_handler(
    settings: Settings, /, *, concurrency: int
) -> AsyncIterator[Handler[AuditCleanup]]:
    """Open the database engine (one connection per run in flight) and yield the handler."""
    engine = sync_engine(settings)
    try:
        yield CleanupHandler(
            engine=engine,
            retention_days=settings.cleanup_retention_days,
            batch_size=settings.cleanup_batch_size,
            lock_timeout=settings.cleanup_monitor_max_runtime,
            monitor=Monitor(settings),
            history_retention=settings.history_retention,
        )
    finally:
        engine.dispose()


CLEANUP_CONCURRENCY = 1
"""Runs in flight per process: cleanups run one at a time anyway (the lock)."""

JOB = Job(topic=AUDIT_CLEANUP, open=open_cleanup_handler, concurrency=CLEANUP_CONCURRENCY)
"""The cleanup job, as the runtime registers it."""

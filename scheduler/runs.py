"""What the scheduler asks the database: has a slot's cleanup finished?

Only the catch-up on start asks, and a wrong "no" costs nothing (the consumer
finds the finished run and does nothing), so a database that does not answer
(or lacks the table) is logged and read as "no".
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import create_engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from schemas.tables import job_runs
from schemas.topics import AUDIT_CLEANUP
from streamjobs.settings import Settings

logger = logging.getLogger("streamjobs.scheduler")

CONNECT_TIMEOUT = 5
"""Seconds to wait for the database before publishing the catch-up anyway."""


def slot_finished(settings: Settings, slot: datetime) -> bool:
    """True when ``job_runs`` holds a finished cleanup run of ``slot``.

    Args:
        settings: ``DATABASE_URL``.
        slot: the slot's instant (``scheduled_for``).
    """
    engine = create_engine(
        settings.sqlalchemy_url,
        poolclass=NullPool,
        connect_args={"connect_timeout": CONNECT_TIMEOUT},
    )
    query = select(job_runs.c.id).where(
        job_runs.c.job == AUDIT_CLEANUP.job,
        job_runs.c.scheduled_for == slot,
        job_runs.c.finished_at.is_not(None),
    )
    try:
        with engine.connect() as connection:
            return connection.execute(query).first() is not None
    except SQLAlchemyError as exc:
        logger.warning(
            "could not read job_runs; catching up without checking",
            extra={"error": type(exc).__name__},
        )
        return False
    finally:
        engine.dispose()

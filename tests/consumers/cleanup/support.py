"""Log rows at chosen ages, and reading back what a cleanup left."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Table, func, select

from consumers.cleanup.runs import LOG_SOURCE
from schemas.tables import job_runs, system_logs


def add_rows(db: Engine, table: Table, *created_at: datetime) -> None:
    """One row of ``table`` per ``created_at``."""
    with db.begin() as connection:
        connection.execute(table.insert(), [{"created_at": when} for when in created_at])


def stamps(db: Engine, table: Table) -> list[datetime]:
    """``created_at`` of every row of ``table`` that is not a cleanup result, oldest first."""
    query = select(table.c.created_at).order_by(table.c.created_at)
    if table is system_logs:
        query = query.where(system_logs.c.source.is_distinct_from(LOG_SOURCE))
    with db.connect() as connection:
        return list(connection.scalars(query))


def results(db: Engine) -> list[dict[str, Any]]:
    """The ``context`` of every cleanup result row, in order."""
    with db.connect() as connection:
        return list(
            connection.scalars(
                select(system_logs.c.context)
                .where(system_logs.c.source == LOG_SOURCE)
                .order_by(system_logs.c.id)
            )
        )


def runs(db: Engine) -> list[Any]:
    """Every ``job_runs`` row, in order."""
    with db.connect() as connection:
        return list(connection.execute(select(job_runs).order_by(job_runs.c.id)))


def count(db: Engine, table: Table) -> int:
    """Rows in ``table``."""
    with db.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(table)) or 0)

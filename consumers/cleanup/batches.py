"""Deleting old log and history rows in short transactions, each one counted in the run's row.

A batch picks at most ``limit`` ids below the cutoff through the
``created_at`` index, skipping rows another transaction has locked, and
deletes them by primary key (``id = ANY(ARRAY(...))`` plans as an index
lookup; a plain ``IN (SELECT ... LIMIT)`` sometimes planned a full scan). The
same transaction adds the count to ``job_runs.result``, so the count and the
deletion commit together or not at all.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Table, text

from schemas.tables import audit_logs, email_deliveries, job_runs, system_logs, webhook_deliveries

TABLES: tuple[Table, ...] = (audit_logs, system_logs)
"""The log tables a cleanup empties of rows older than the run's retention, in order."""

HISTORY_TABLES: tuple[Table, ...] = (webhook_deliveries, email_deliveries, job_runs)
"""The job view's history, trimmed of rows older than ``HISTORY_RETENTION``, in order."""

TIME_COLUMNS = {job_runs.name: "started_at"}
"""The column a table's age is read from, where it is not ``created_at``."""

LOCK_KEY = 0x736A_636C_6561_6E75
"""The advisory lock id (``sjcleanu``) that one cleanup holds at a time."""

_COUNT_BATCH = text(
    "UPDATE job_runs SET result = jsonb_set(result, ARRAY['deleted', :table],"
    " to_jsonb(COALESCE((result #>> ARRAY['deleted', :table])::bigint, 0) + :count))"
    " WHERE id = :run"
)


def _delete_batch(table: Table) -> str:
    name = table.name  # a table of the metadata, never input
    column = TIME_COLUMNS.get(name, "created_at")
    return (
        f"DELETE FROM {name} WHERE id = ANY(ARRAY("
        f"SELECT id FROM {name} WHERE {column} < :cutoff"
        " LIMIT :limit FOR UPDATE SKIP LOCKED))"
    )


_DELETES = {table.name: text(_delete_batch(table)) for table in (*TABLES, *HISTORY_TABLES)}


def delete_batch(
    connection: Connection, *, table: Table, cutoff: datetime, limit: int, run_id: int
) -> int:
    """Delete up to ``limit`` rows of ``table`` created before ``cutoff``; count them in the run.

    Args:
        connection: one transaction is begun and committed on it.
        table: one of ``TABLES`` or ``HISTORY_TABLES``.
        cutoff: rows with ``created_at`` (``job_runs``: ``started_at``) strictly before it go.
        limit: rows per transaction (``CLEANUP_BATCH_SIZE``).
        run_id: the ``job_runs`` row whose ``result.deleted`` counts them.

    Returns:
        The rows deleted; fewer than ``limit`` means none were left (or the
        rest is locked by a writer and waits for the next run).
    """
    with connection.begin():
        deleted = connection.execute(
            _DELETES[table.name], {"cutoff": cutoff, "limit": limit}
        ).rowcount
        if deleted:
            connection.execute(_COUNT_BATCH, {"table": table.name, "count": deleted, "run": run_id})
    return deleted


def try_lock(connection: Connection) -> bool:
    """Take the cleanup lock for this connection's session; False if another session has it."""
    # A session lock outlives the transaction that takes it, and dies with the
    # connection, so a crashed consumer never leaves it behind.
    with connection.begin():
        query = text("SELECT pg_try_advisory_lock(:key)")
        return bool(connection.execute(query, {"key": LOCK_KEY}).scalar())


def unlock(connection: Connection) -> None:
    """Release the cleanup lock taken by ``try_lock`` on this connection."""
    with connection.begin():
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})

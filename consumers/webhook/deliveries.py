"""The delivery log: one ``webhook_deliveries`` row per attempt, written in batches.

Handlers hand their row to a ``DeliveryWriter`` and wait until it is stored,
so a message never counts as done before its row exists. Rows that arrive
while a batch is being written form the next batch (group commit): under
load batches grow by themselves, and when idle a row waits for nothing but
its own insert. While the database is down the writer retries with backoff
and the handlers stay blocked: back-pressure, no row lost.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from sqlalchemy import Engine, TextClause, bindparam, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from consumers.webhook.outcomes import Kind
from schemas.tables import webhook_deliveries

logger = logging.getLogger(__name__)

MAX_BATCH = 500
"""Most rows in one INSERT."""

BACKOFF_START = 0.1
"""Seconds before the first retry of a batch the database refused."""

BACKOFF_MAX = 5.0
"""Longest wait between retries of one batch."""


@dataclass(frozen=True, kw_only=True, slots=True)
class DeliveryRow:
    """One attempt, as stored; fields are the table's columns."""

    event_id: str
    webhook_id: uuid.UUID
    attempt: int
    outcome: Kind
    http_status: int | None
    error_code: str | None
    error_message: str | None
    duration_ms: int
    response_excerpt: str | None
    topic: str
    partition: int
    offset: int


def _insert_from_arrays() -> TextClause:
    """One INSERT of a whole batch: each column travels as one array, unnested."""
    columns = [field.name for field in dataclasses.fields(DeliveryRow)]
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    arrays = ", ".join(
        f"CAST(:{name} AS {webhook_deliveries.c[name].type.compile(dialect=dialect)}[])"
        for name in columns
    )
    quoted = ", ".join(f'"{name}"' for name in columns)  # "offset" is a keyword
    return text(
        f"INSERT INTO {webhook_deliveries.name} ({quoted})"
        f" SELECT * FROM unnest({arrays})"
        " ON CONFLICT (event_id, webhook_id, attempt) DO NOTHING"
    ).bindparams(*(bindparam(name) for name in columns))


_INSERT_ARRAYS = _insert_from_arrays()


TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})
"""SQLSTATE classes that mean the database, not the row, is in trouble: connection,
transaction rollback, insufficient resources, operator intervention, system error."""


def is_transient(error: Exception) -> bool:
    """True when ``error`` means the database is unreachable, not that a row is bad.

    psycopg files some row errors (``54000``, an index entry over its size limit)
    under ``OperationalError``: the SQLSTATE decides when the server sent one.
    """
    if isinstance(error, InterfaceError | PoolTimeoutError):
        return True
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    if not isinstance(error, OperationalError):
        return False
    sqlstate = getattr(error.orig, "sqlstate", None)
    return sqlstate is None or sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES


def insert_rows(engine: Engine, rows: list[DeliveryRow]) -> list[Exception | None]:
    """Insert ``rows``, skipping attempts already logged; one result per row.

    A batch refused for its content (a database error, or a value the driver
    cannot encode) is retried row by row, so one bad row fails alone (its result
    is the exception) and the rest are stored.

    Raises:
        SQLAlchemyError: the database is unreachable (see ``is_transient``).
    """
    try:
        _insert(engine, [dataclasses.asdict(row) for row in rows])
    except Exception as exc:
        if is_transient(exc):
            raise
        if len(rows) == 1:
            return [exc]
        return [_insert_alone(engine, row) for row in rows]
    return [None] * len(rows)


def _insert_alone(engine: Engine, row: DeliveryRow) -> Exception | None:
    try:
        _insert(engine, [dataclasses.asdict(row)])
    except Exception as exc:
        if is_transient(exc):
            raise
        return exc
    return None


def _insert(engine: Engine, values: list[dict[str, Any]]) -> None:
    # One statement for the whole batch: executemany would send one INSERT per row.
    columns = {name: [row[name] for row in values] for name in values[0]}
    with engine.begin() as connection:
        connection.execute(_INSERT_ARRAYS, columns)


class DeliveryWriter:
    """Collects rows from many handlers and writes them in batches from a worker thread.

    Use as an async context manager; leaving it writes the rows still waiting.

    Args:
        engine: the sync engine to write with.
        max_batch: most rows per INSERT; default 500.
        drain_timeout: seconds ``close`` waits for waiting rows; default 30.
    """

    def __init__(
        self, engine: Engine, *, max_batch: int = MAX_BATCH, drain_timeout: float = 30.0
    ) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._drain_timeout = drain_timeout
        self._waiting: list[tuple[DeliveryRow, asyncio.Future[None]]] = []
        self._wakeup = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> DeliveryWriter:
        self._task = asyncio.create_task(self._run(), name="webhook-delivery-writer")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def write(self, row: DeliveryRow) -> None:
        """Return once ``row`` is stored (or was already: same event, endpoint, attempt).

        Raises:
            RuntimeError: the writer is closed.
            SQLAlchemyError: the database refused this row for its content.
        """
        if self._closing:
            raise RuntimeError("the delivery writer is closed")
        stored = asyncio.get_running_loop().create_future()
        self._waiting.append((row, stored))
        self._wakeup.set()
        await stored

    async def close(self) -> None:
        """Write the waiting rows (at most ``drain_timeout`` seconds), then stop.

        Rows still unwritten after that fail their ``write`` with RuntimeError;
        their messages were not completed, so they are read again.
        """
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, self._drain_timeout)
            except TimeoutError:
                logger.error(
                    "delivery rows not written at shutdown", extra={"rows": len(self._waiting)}
                )
        for _, stored in self._waiting:
            if not stored.done():
                stored.set_exception(
                    RuntimeError("the delivery writer closed before this row was written")
                )
        self._waiting.clear()

    async def _run(self) -> None:
        while self._waiting or not self._closing:
            if not self._waiting:
                await self._wakeup.wait()
                self._wakeup.clear()
                continue
            batch = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
            await self._flush(batch)

    async def _flush(self, batch: list[tuple[DeliveryRow, asyncio.Future[None]]]) -> None:
        rows = [row for row, _ in batch]
        delay = BACKOFF_START
        while True:
            try:
                results = await asyncio.to_thread(insert_rows, self._engine, rows)
                break
            except Exception as exc:
                if not is_transient(exc):
                    results = [exc] * len(rows)
                    break
                logger.warning(
                    "database unavailable; delivery rows wait",
                    extra={
                        "rows": len(rows),
                        "retry_in_s": delay,
                        "error_class": type(exc).__name__,
                    },
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX)
        for (_, stored), error in zip(batch, results, strict=True):
            if stored.done():  # its handler was cancelled
                continue
            if error is None:
                stored.set_result(None)
            else:
                stored.set_exception(error)

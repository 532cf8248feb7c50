"""The delivery log: one ``webhook_deliveries`` row per attempt, written in batches.

An attempt's row is written twice: as ``pending`` before its POST (``begin``),
and with its outcome after it (``settle``). A POST is thus never sent without
its row, and a row a crash left ``pending`` says the outcome is unknown. A
redo of the attempt (the message redelivered after the crash) counts one more
``sends`` on that row, then settles it; a redo of an attempt already settled,
or of an event already delivered, sends nothing and reads the outcome back.
Handlers wait until their row is stored, so a message never counts as done
before its row exists. Rows that arrive
while a batch is being written form the next batch (group commit), and two
statements of a lane start at least its spacing apart (``SPACING``): under
load batches grow by themselves, and when idle a row waits for nothing but
its own insert. While the database is down the writer retries with backoff
and the handlers stay blocked: back-pressure, no row lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, LiteralString, NamedTuple

import msgspec
import psycopg
from sqlalchemy.dialects import postgresql

from consumers.webhook.outcomes import PENDING, Kind, Outcome
from schemas.tables import webhook_deliveries

logger = logging.getLogger(__name__)

MAX_BATCH = 500
"""Most rows in one transaction."""

SPACING: dict[Op, float] = {"begin": 0.004, "settle": 0.010}
"""Least seconds between the starts of two statements of one lane, by kind of row.

Besides its rows, each statement costs both sides a share of its own (a round
trip, a transaction, a plan to start), and under load rows come faster than
statements return: spaced out, a lane writes fewer, larger batches (at 4,000
deliveries/s a third to a fifth of the statements, and about a fifth less
database CPU per delivery). An idle lane writes a lone row at once. Outcomes
wait longer: no POST waits for them, only the message's completion.
"""

BACKOFF_START = 0.1
"""Seconds before the first retry of a batch the database refused."""

BACKOFF_MAX = 5.0
"""Longest wait between retries of one batch."""

CONNECT_TIMEOUT = 10
"""Seconds to open the writer's connection before the attempt counts as failed."""


class DeliveryRow(NamedTuple):
    """One attempt, as stored; fields are the table's columns.

    A named tuple, not a frozen dataclass: two are made per delivery, and a
    frozen dataclass's ``__init__`` costs a call per field.
    """

    event_id: str
    webhook_id: uuid.UUID
    attempt: int
    outcome: Kind
    http_status: int | None
    error_code: str | None
    error_message: str | None
    duration_ms: int | None
    response_excerpt: str | None
    topic: str
    partition: int
    offset: int


COLUMNS = DeliveryRow._fields
"""The columns a ``DeliveryRow`` fills, in order."""

SETTLED_COLUMNS = (
    "outcome",
    "http_status",
    "error_code",
    "error_message",
    "duration_ms",
    "response_excerpt",
    "topic",
    "partition",
    "offset",
)
"""Columns an outcome overwrites in the row its attempt began."""


def _input_rows() -> str:
    """A CTE of the batch: one JSON array of rows, each an array of the columns in
    ``COLUMNS`` order, numbered by ``n``.

    One text parameter for the whole batch: the driver encodes it at once,
    where a column of arrays costs it a Python call per value; and a row
    (a named tuple) is a JSON array as it is. Read as ``jsonb``, which is
    parsed once: ``->>`` on ``json`` scans the element's text again for every
    column, and took PostgreSQL a third of its time per delivery.
    """
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    types = [webhook_deliveries.c[name].type.compile(dialect=dialect) for name in COLUMNS]
    columns = ", ".join(
        f'CAST(r->>{index} AS {type_}) AS "{name}"'  # quoted: "offset" is a keyword
        for index, (name, type_) in enumerate(zip(COLUMNS, types, strict=True))
    )
    rows = "jsonb_array_elements(CAST(%(rows)s AS jsonb)) WITH ORDINALITY AS e(r, n)"
    return f"input AS (SELECT {columns}, n FROM {rows})"


def _statement(body: str) -> LiteralString:
    return f"WITH {_input_rows()}, {body}"


ROWS_ENCODER = msgspec.json.Encoder()
"""Writes a batch: a named tuple as an array, a UUID as its text."""


def _batch_json(rows: list[DeliveryRow]) -> str:
    """The ``rows`` parameter: ``[["evt-1", "<webhook id>", 1, "pending", ...], ...]``."""
    return ROWS_ENCODER.encode(rows).decode()


_TABLE = webhook_deliveries.name
_QUOTED = ", ".join(f'"{name}"' for name in COLUMNS)
_KEY = "(event_id, webhook_id, attempt)"
_SUCCEEDED = (
    f"EXISTS (SELECT 1 FROM {_TABLE} d WHERE d.event_id = i.event_id"
    " AND d.webhook_id = i.webhook_id AND d.outcome = 'success')"
)

# Pending rows: a new attempt inserts one; a redo of an attempt whose row is still
# pending (its POST was cut short by a crash) counts one more send on it; a redo of an
# attempt already settled leaves the row alone and reads its outcome back. Every
# statement sees the table as it was before it: the final SELECT reads what was there.
_BEGIN = _statement(
    f"delivered AS (SELECT i.n FROM input i WHERE {_SUCCEEDED}),"
    f" written AS (INSERT INTO {_TABLE} ({_QUOTED})"
    f" SELECT {_QUOTED} FROM input WHERE n NOT IN (SELECT n FROM delivered)"
    f" ON CONFLICT {_KEY} DO UPDATE SET sends = {_TABLE}.sends + 1, created_at = now(),"
    ' topic = EXCLUDED.topic, "partition" = EXCLUDED."partition", "offset" = EXCLUDED."offset"'
    f" WHERE {_TABLE}.outcome = '{PENDING}')"
    " SELECT i.n IN (SELECT n FROM delivered), d.outcome, d.http_status, d.error_code,"
    f" d.error_message FROM input i LEFT JOIN {_TABLE} d ON d.event_id = i.event_id"
    " AND d.webhook_id = i.webhook_id AND d.attempt = i.attempt"
    f" AND d.outcome <> '{PENDING}' ORDER BY i.n"
)

# Outcomes: they replace the pending row of their attempt, but never a success (two
# chains of one event may both have made it); each row reads back whether the event
# succeeded on its endpoint, in this attempt or another.
_SETTLE = _statement(
    f"written AS (INSERT INTO {_TABLE} ({_QUOTED}) SELECT {_QUOTED} FROM input"
    f" ON CONFLICT {_KEY} DO UPDATE SET "
    + ", ".join(f'"{name}" = EXCLUDED."{name}"' for name in SETTLED_COLUMNS)
    + f" WHERE {_TABLE}.outcome <> 'success')"
    f" SELECT i.outcome = 'success' OR {_SUCCEEDED} FROM input i ORDER BY i.n"
)


TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})
"""SQLSTATE classes that mean the database, not the row, is in trouble: connection,
transaction rollback, insufficient resources, operator intervention, system error."""


def is_transient(error: Exception) -> bool:
    """True when ``error`` means the database is unreachable, not that a row is bad.

    psycopg files some row errors (``54000``, an index entry over its size limit)
    under ``OperationalError``: the SQLSTATE decides when the server sent one.
    """
    if isinstance(error, psycopg.InterfaceError):  # the connection is closed
        return True
    if not isinstance(error, psycopg.OperationalError):
        return False
    return error.sqlstate is None or error.sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES


@dataclass(frozen=True, kw_only=True, slots=True)
class Prior:
    """What the log already held when an attempt began.

    Args:
        delivered: the event succeeded on this endpoint before (any attempt).
        recorded: this very attempt's settled outcome, when an earlier owner of
            the message made and logged it (a redelivery after a crash); None
            for an attempt never made, or cut short while pending.
    """

    delivered: bool
    recorded: Outcome | None


Op = Literal["begin", "settle"]
"""``begin``: write the attempt's pending row; ``settle``: write its outcome."""

OPS: tuple[Op, ...] = ("begin", "settle")
"""Each kind of row has a lane (a connection) of its own."""

Result = Prior | bool | Exception
"""``begin`` gives a ``Prior``, ``settle`` whether the event is delivered; or the row's error."""

Waiting = tuple[DeliveryRow, "asyncio.Future[Result]"]
"""A row for the writer, and the future its handler awaits."""


async def write_rows(
    connection: psycopg.AsyncConnection[Any], op: Op, rows: list[DeliveryRow]
) -> list[Result]:
    """Write rows of one kind in one statement; one result per row, in order.

    One statement is one transaction, so a batch is stored whole or not at
    all. One refused for its content (a database error, or a value the driver
    cannot encode) is retried row by row, so one bad row fails alone (its
    result is the exception) and the rest are stored.

    Raises:
        psycopg.Error: the database is unreachable (see ``is_transient``).
    """
    try:
        return await _execute(connection, op, rows)
    except Exception as exc:
        if is_transient(exc):
            raise
        if len(rows) == 1:
            return [exc]
        return [await _write_alone(connection, op, row) for row in rows]


async def _write_alone(
    connection: psycopg.AsyncConnection[Any], op: Op, row: DeliveryRow
) -> Result:
    try:
        return (await _execute(connection, op, [row]))[0]
    except Exception as exc:
        if is_transient(exc):
            raise
        return exc


async def _execute(
    connection: psycopg.AsyncConnection[Any], op: Op, rows: list[DeliveryRow]
) -> list[Result]:
    # One statement for the whole batch: executemany would send one per row.
    statement = _BEGIN if op == "begin" else _SETTLE
    cursor = await connection.execute(statement, {"rows": _batch_json(rows)})
    answers = await cursor.fetchall()
    if op == "begin":
        return [_prior(answer) for answer in answers]
    return [bool(answer[0]) for answer in answers]


def _prior(answer: tuple[Any, ...]) -> Prior:
    delivered, outcome, http_status, code, message = answer
    recorded = None
    if outcome is not None:
        recorded = Outcome(kind=outcome, http_status=http_status, code=code, message=message)
    return Prior(delivered=bool(delivered), recorded=recorded)


class _Lane:
    """One connection of the writer and the batches written on it, one at a time.

    The connection (psycopg's asyncio one) is opened on first use, and again
    after the database dropped it.

    Args:
        url: the database, as libpq reads it.
    """

    def __init__(self, url: str) -> None:
        self._url = url
        self._connection: psycopg.AsyncConnection[Any] | None = None

    async def write(self, op: Op, rows: list[DeliveryRow]) -> list[Result]:
        """``write_rows`` on this lane's connection; one the database dropped is discarded."""
        if self._connection is None:
            self._connection = await psycopg.AsyncConnection.connect(
                self._url, autocommit=True, connect_timeout=CONNECT_TIMEOUT
            )
        try:
            return await write_rows(self._connection, op, rows)
        except Exception as exc:
            if is_transient(exc):
                await self.close()
            raise

    async def close(self) -> None:
        """Close the connection, if open."""
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):  # a dead connection may fail to close
                await connection.close()


class DeliveryWriter:
    """Collects rows from many handlers and writes them in batches, on the event loop.

    Use as an async context manager; leaving it writes the rows still waiting.
    Pending rows and outcomes are written on two lanes, each a connection of
    its own with one batch out at a time: a row never waits behind a batch of
    the other kind, and a POST waits for its pending row alone. On the loop
    rather than in a thread: a thread waits for the GIL after every round
    trip, up to a switch interval (5 ms) each time while the loop is busy.

    Args:
        url: the database, as libpq reads it (``database.libpq_url``).
        max_batch: most rows per transaction; default 500.
        spacing: least seconds between the statements of a lane, by kind of
            row; default ``SPACING``.
        drain_timeout: seconds ``close`` waits for waiting rows; default 30.
    """

    def __init__(
        self,
        url: str,
        *,
        max_batch: int = MAX_BATCH,
        spacing: dict[Op, float] | None = None,
        drain_timeout: float = 30.0,
    ) -> None:
        self._lanes = {op: _Lane(url) for op in OPS}
        self._max_batch = max_batch
        self._spacing = SPACING if spacing is None else spacing
        self._drain_timeout = drain_timeout
        self._waiting: dict[Op, list[Waiting]] = {op: [] for op in OPS}
        self._wakeups = {op: asyncio.Event() for op in OPS}
        self._closing = False
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> DeliveryWriter:
        self._tasks = [
            asyncio.create_task(self._run(op), name=f"webhook-delivery-writer-{op}") for op in OPS
        ]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def begin(self, row: DeliveryRow) -> Prior:
        """Log ``row`` (outcome ``pending``) before its POST; return what the log held.

        Nothing is written when the event was delivered already or this attempt
        is settled: the caller then sends nothing.

        Raises:
            RuntimeError: the writer is closed.
            psycopg.Error: the database refused this row for its content.
        """
        prior = await self._submit("begin", row)
        assert isinstance(prior, Prior)
        return prior

    async def settle(self, row: DeliveryRow) -> bool:
        """Store ``row``'s outcome over its pending row (or as a new one); never over a success.

        Returns:
            True when the event has succeeded on this endpoint: this attempt or another.

        Raises:
            RuntimeError: the writer is closed.
            psycopg.Error: the database refused this row for its content.
        """
        return bool(await self._submit("settle", row))

    async def _submit(self, op: Op, row: DeliveryRow) -> Result:
        if self._closing:
            raise RuntimeError("the delivery writer is closed")
        stored: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting[op].append((row, stored))
        self._wakeups[op].set()
        return await stored

    async def close(self) -> None:
        """Write the waiting rows (at most ``drain_timeout`` seconds), then stop.

        Rows still unwritten after that fail with RuntimeError; their messages
        were not completed, so they are read again.
        """
        self._closing = True
        for wakeup in self._wakeups.values():
            wakeup.set()
        if self._tasks:
            try:
                await asyncio.wait_for(asyncio.gather(*self._tasks), self._drain_timeout)
            except TimeoutError:
                rows = sum(len(waiting) for waiting in self._waiting.values())
                logger.error("delivery rows not written at shutdown", extra={"rows": rows})
        for waiting in self._waiting.values():
            for _, stored in waiting:
                if not stored.done():
                    stored.set_exception(
                        RuntimeError("the delivery writer closed before this row was written")
                    )
            waiting.clear()
        for lane in self._lanes.values():
            await lane.close()

    async def _run(self, op: Op) -> None:
        """Write the rows of kind ``op`` on their lane: each batch is what came in while
        the last one was out, and within the lane's spacing since it started."""
        waiting, wakeup = self._waiting[op], self._wakeups[op]
        loop, spacing, next_start = asyncio.get_running_loop(), self._spacing[op], 0.0
        while waiting or not self._closing:
            if not waiting:
                await wakeup.wait()
                wakeup.clear()
                continue
            early = next_start - loop.time()
            if early > 0 and len(waiting) < self._max_batch and not self._closing:
                await asyncio.sleep(early)  # more rows join the batch meanwhile
            next_start = loop.time() + spacing
            batch = waiting[: self._max_batch]
            del waiting[: self._max_batch]
            results = await self._write_patiently(op, [row for row, _ in batch])
            for (_, stored), result in zip(batch, results, strict=True):
                if stored.done():  # its handler was cancelled
                    continue
                if isinstance(result, Exception):
                    stored.set_exception(result)
                else:
                    stored.set_result(result)

    async def _write_patiently(self, op: Op, rows: list[DeliveryRow]) -> list[Result]:
        """Write ``rows`` on their lane, retrying with backoff while the database is unreachable."""
        delay = BACKOFF_START
        while True:
            try:
                return await self._lanes[op].write(op, rows)
            except Exception as exc:
                if not is_transient(exc):
                    return [exc] * len(rows)
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

"""The ``email_deliveries`` record: what became of each chunk of each event.

One row per request outcome. A chunk is done once it has a ``sent`` row
(Resend accepted at least one of its emails; the unique index keeps that
row single) or a ``rejected`` row (none of its emails was valid); done
chunks are skipped on a retry, a redelivery after a crash and a replay days
later, when Resend's 24-hour memory of idempotency keys is gone. ``failed``
rows keep the history of requests that did not go through. Rows hold Resend
ids and counts, never an address, subject or body.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Literal, TypeVar

from sqlalchemy import Engine, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import SQLAlchemyError

from consumers.email import codes
from schemas.tables import email_deliveries
from streamjobs.errors import RetryableError

Outcome = Literal["sent", "rejected", "failed"]
"""The ``outcome`` column."""

DONE: tuple[Outcome, ...] = ("sent", "rejected")
"""Outcomes after which a chunk is never sent again."""

A = TypeVar("A")
R = TypeVar("R")

SINGLE_CHUNK = 0
"""The ``chunk`` of an ``email.send`` event; batch chunks count from 1."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ChunkRow:
    """One row; fields are the table's columns.

    Args:
        event_id: the event's id.
        chunk: ``SINGLE_CHUNK`` for a single email, else the chunk's number from 1.
        outcome: see ``Outcome``.
        resend_ids: ids Resend gave the accepted emails, in order.
        recipients: addresses of the accepted emails (to, cc and bcc).
        error: for ``failed``, the failure; for ``sent`` and ``rejected``,
            the emails refused (``#index field: problem``), else None.
    """

    event_id: str
    chunk: int
    outcome: Outcome
    resend_ids: list[str] | None = None
    recipients: int | None = None
    error: str | None = None


class DeliveryLog:
    """Reads and writes ``email_deliveries`` off the event loop.

    Args:
        engine: the sync engine; calls run in worker threads.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def done(self, event_id: str) -> dict[int, ChunkRow]:
        """The done chunks of ``event_id``, by chunk number.

        Raises:
            RetryableError: the database did not answer (``E_DATABASE``).
        """
        return await _off_loop(self._done, event_id)

    async def write(self, row: ChunkRow) -> None:
        """Store ``row``; a second ``sent`` row for one chunk is ignored.

        Raises:
            RetryableError: the database did not answer (``E_DATABASE``).
        """
        await _off_loop(self._write, row)

    def _done(self, event_id: str) -> dict[int, ChunkRow]:
        table = email_deliveries
        query = select(
            table.c.chunk, table.c.outcome, table.c.resend_ids, table.c.recipients, table.c.error
        ).where(table.c.event_id == event_id, table.c.outcome.in_(DONE))
        with self._engine.connect() as connection:
            return {
                row.chunk: ChunkRow(event_id=event_id, **row._mapping)
                for row in connection.execute(query)
            }

    def _write(self, row: ChunkRow) -> None:
        statement = (
            insert(email_deliveries)
            .values(asdict(row))
            .on_conflict_do_nothing(
                index_elements=["event_id", "chunk"], index_where=text("outcome = 'sent'")
            )
        )
        with self._engine.begin() as connection:
            connection.execute(statement)


async def _off_loop(function: Callable[[A], R], argument: A) -> R:
    """``function(argument)`` in a worker thread; database trouble becomes retryable."""
    try:
        return await asyncio.to_thread(function, argument)
    except SQLAlchemyError as exc:
        raise RetryableError(
            f"email_deliveries unavailable ({type(exc).__name__})", code=codes.E_DATABASE
        ) from None

"""The delivery log writer: batched, idempotent, and patient while the database is down."""

from __future__ import annotations

import asyncio
import contextlib
import math
import secrets
import time
import uuid
from collections.abc import AsyncIterator

from psycopg import DataError, OperationalError
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url

from consumers.webhook.deliveries import DeliveryRow, DeliveryWriter, Op, Prior
from schemas.tables import webhook_deliveries
from streamjobs.database import libpq_url
from streamjobs.settings import Settings


def delivery(event_id: str, attempt: int = 1) -> DeliveryRow:
    """A plausible row for ``attempt`` of ``event_id``."""
    return DeliveryRow(
        event_id=event_id,
        webhook_id=uuid.UUID(int=7),
        attempt=attempt,
        outcome="success",
        http_status=200,
        error_code=None,
        error_message=None,
        duration_ms=12,
        response_excerpt="ok",
        topic="webhook.send",
        partition=0,
        offset=attempt,
    )


def count(db: Engine, event_id: str) -> int:
    query = select(func.count()).where(webhook_deliveries.c.event_id == event_id)
    with db.connect() as connection:
        return int(connection.execute(query).scalar_one())


def test_concurrent_rows_are_all_stored_and_a_repeat_is_ignored(db: Engine) -> None:
    async def scenario() -> None:
        async with DeliveryWriter(libpq_url(db.url), max_batch=50) as writer:
            await asyncio.gather(*(writer.settle(delivery("evt-many", n)) for n in range(1, 201)))
            await writer.settle(delivery("evt-many", 1))

    asyncio.run(scenario())

    assert count(db, "evt-many") == 200


def test_a_row_the_database_refuses_fails_alone(db: Engine) -> None:
    too_large_attempt = 40_000  # beyond the smallint column

    async def scenario() -> tuple[BaseException | bool, ...]:
        async with DeliveryWriter(libpq_url(db.url)) as writer:
            return tuple(
                await asyncio.gather(
                    writer.settle(delivery("evt-mixed", 1)),
                    writer.settle(delivery("evt-mixed", too_large_attempt)),
                    writer.settle(delivery("evt-mixed", 2)),
                    return_exceptions=True,
                )
            )

    first, bad, second = asyncio.run(scenario())

    assert first is True and second is True
    assert isinstance(bad, DataError)
    assert count(db, "evt-mixed") == 2


def test_a_row_over_the_index_entry_limit_fails_alone_instead_of_stalling_the_writer(
    db: Engine,
) -> None:
    # Incompressible text: PostgreSQL compresses repetitive index entries below the limit.
    huge_id = secrets.token_hex(4096)

    async def scenario() -> tuple[BaseException | bool, ...]:
        async with DeliveryWriter(libpq_url(db.url)) as writer:
            return tuple(
                await asyncio.wait_for(
                    asyncio.gather(
                        writer.settle(delivery("evt-beside-huge", 1)),
                        writer.settle(delivery(huge_id, 1)),
                        return_exceptions=True,
                    ),
                    timeout=20,
                )
            )

    good, bad = asyncio.run(scenario())

    assert good is True
    assert isinstance(bad, OperationalError)
    assert count(db, "evt-beside-huge") == 1


def test_a_row_the_driver_cannot_encode_fails_alone(db: Engine) -> None:
    unencodable = delivery("evt-surrogate", 2)._replace(error_message="\ud800")

    async def scenario() -> tuple[BaseException | bool, ...]:
        async with DeliveryWriter(libpq_url(db.url)) as writer:
            return tuple(
                await asyncio.gather(
                    writer.settle(delivery("evt-surrogate", 1)),
                    writer.settle(unencodable),
                    return_exceptions=True,
                )
            )

    good, bad = asyncio.run(scenario())

    assert good is True
    assert isinstance(bad, Exception)
    assert count(db, "evt-surrogate") == 1


class Gate:
    """A TCP proxy in front of PostgreSQL; while shut it hangs up on every connection."""

    def __init__(self, host: str, port: int) -> None:
        self.shut = True
        self._upstream = (host, port)
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Gate]:
        self._server = await asyncio.start_server(self._on_connection, "127.0.0.1", 0)
        async with self._server:
            yield self

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if self.shut:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


def test_while_the_database_is_down_the_writer_blocks_and_stores_the_row_later(
    db: Engine, settings: Settings
) -> None:
    url = make_url(settings.sqlalchemy_url)
    host, port = url.host, url.port
    assert host is not None and port is not None

    async def scenario() -> None:
        async with Gate(host, port).running() as gate:
            through_gate = libpq_url(url.set(host="127.0.0.1", port=gate.port))
            async with DeliveryWriter(through_gate) as writer:
                stored = asyncio.ensure_future(writer.settle(delivery("evt-outage")))
                await asyncio.sleep(1.0)
                assert not stored.done(), "the handler must wait while the database is down"
                gate.shut = False
                await asyncio.wait_for(stored, timeout=10)

    asyncio.run(scenario())

    assert count(db, "evt-outage") == 1


def test_leaving_the_writer_stores_the_rows_still_waiting(db: Engine) -> None:
    async def scenario() -> None:
        async with DeliveryWriter(libpq_url(db.url)) as writer:
            waiting = [
                asyncio.ensure_future(writer.settle(delivery("evt-close", n))) for n in (1, 2, 3)
            ]
            await asyncio.sleep(0)  # the rows are queued, not yet written
        await asyncio.gather(*waiting)

    asyncio.run(scenario())

    assert count(db, "evt-close") == 3


def statements(db: Engine, event_id: str) -> int:
    """How many statements wrote the rows of ``event_id``: the rows of one share its ``now()``."""
    query = select(func.count(webhook_deliveries.c.created_at.distinct())).where(
        webhook_deliveries.c.event_id == event_id
    )
    with db.connect() as connection:
        return int(connection.execute(query).scalar_one())


def test_under_load_a_lane_writes_few_large_batches(db: Engine) -> None:
    spacing: dict[Op, float] = {"begin": 0.0, "settle": 0.1}

    async def scenario() -> float:
        started = time.monotonic()
        async with DeliveryWriter(libpq_url(db.url), spacing=spacing) as writer:
            stored = []
            for n in range(1, 41):  # a row every 5 ms or so
                stored.append(asyncio.ensure_future(writer.settle(delivery("evt-load", n))))
                await asyncio.sleep(0.005)
            await asyncio.gather(*stored)
        return time.monotonic() - started

    elapsed = asyncio.run(scenario())

    # The first row at once, then a statement per 0.1 s at most; unspaced, about
    # one per row, since a round trip takes less than the 5 ms between rows.
    assert count(db, "evt-load") == 40
    assert statements(db, "evt-load") <= 1 + math.ceil(elapsed / spacing["settle"])


def test_an_idle_lane_writes_a_lone_row_at_once(db: Engine) -> None:
    async def scenario() -> None:
        async with DeliveryWriter(libpq_url(db.url), spacing={"begin": 60, "settle": 60}) as w:
            await asyncio.wait_for(w.settle(delivery("evt-lone")), timeout=30)

    asyncio.run(scenario())

    assert count(db, "evt-lone") == 1


def pending(event_id: str, attempt: int = 1) -> DeliveryRow:
    """The row of ``attempt`` as written before its POST."""
    return delivery(event_id, attempt)._replace(
        outcome="pending",
        http_status=None,
        duration_ms=None,
        response_excerpt=None,
    )


def failed(event_id: str, attempt: int = 1) -> DeliveryRow:
    return delivery(event_id, attempt)._replace(outcome="retryable", http_status=503)


def logged(db: Engine, event_id: str) -> list[tuple[int, str, int]]:
    log = webhook_deliveries.c
    query = (
        select(log.attempt, log.outcome, log.sends)
        .where(log.event_id == event_id)
        .order_by(log.attempt)
    )
    with db.connect() as connection:
        return [(row.attempt, row.outcome, row.sends) for row in connection.execute(query)]


def test_an_attempt_is_pending_before_its_post_and_a_redo_counts_one_more_send(
    db: Engine,
) -> None:
    async def scenario() -> list[Prior]:
        async with DeliveryWriter(libpq_url(db.url)) as writer:
            first = await writer.begin(pending("evt-redo"))
            redo = await writer.begin(pending("evt-redo"))  # the consumer died mid-POST
            return [first, redo]

    first, redo = asyncio.run(scenario())

    assert first == redo == Prior(delivered=False, recorded=None)
    assert logged(db, "evt-redo") == [(1, "pending", 2)]


def test_a_settled_attempt_is_read_back_and_not_begun_again(db: Engine) -> None:
    async def scenario() -> Prior:
        async with DeliveryWriter(libpq_url(db.url)) as writer:
            await writer.begin(pending("evt-settled"))
            assert await writer.settle(failed("evt-settled")) is False
            return await writer.begin(pending("evt-settled"))

    prior = asyncio.run(scenario())

    assert prior.delivered is False
    assert prior.recorded is not None
    assert (prior.recorded.kind, prior.recorded.http_status) == ("retryable", 503)
    assert logged(db, "evt-settled") == [(1, "retryable", 1)]


def test_once_an_event_succeeded_no_attempt_begins_and_no_failure_counts(db: Engine) -> None:
    async def scenario() -> tuple[Prior, bool]:
        async with DeliveryWriter(libpq_url(db.url)) as writer:
            await writer.begin(pending("evt-chains", 2))
            assert await writer.settle(delivery("evt-chains", 2)) is True
            later = await writer.begin(pending("evt-chains", 3))
            # A second chain of the event failing attempt 2 after the first chain's success:
            other = await writer.settle(failed("evt-chains", 2))
            return later, other

    later, other = asyncio.run(scenario())

    assert later == Prior(delivered=True, recorded=None)
    assert other is True
    assert logged(db, "evt-chains") == [(2, "success", 1)]

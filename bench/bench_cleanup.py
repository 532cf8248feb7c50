"""The batched cleanup against one plain ``DELETE``, with a log writer running alongside.

Run against a migrated database (``streamjobs db upgrade``; every row of
``audit_logs`` and ``system_logs`` there is deleted)::

    .venv/bin/python bench/bench_cleanup.py [--rows 2000000] [--baseline-seconds 10]

In one run, on the same data set (``--rows`` rows split over both tables,
half of them older than the cutoff, refilled before each contender):

1. baseline: a writer inserting one log row per transaction, with no cleanup;
2. the cleanup job's handler (batches of ``CLEANUP_BATCH_SIZE``), the writer on;
3. ``DELETE ... WHERE created_at < cutoff`` on each table in one transaction,
   the writer on.

Only the writer's inserts that start while the cleanup runs count. For each
cleanup: total time, the longest cleanup transaction (sampled from
``pg_stat_activity`` every 10 ms) and the writer's p99 insert latency, against
the baseline's p99 (target: at most 2x during the batched cleanup).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as EventType

from sqlalchemy import Engine, create_engine, text

from consumers.cleanup.job import CleanupHandler
from consumers.cleanup.monitor import Monitor
from consumers.job import Context
from schemas.events import AuditCleanup
from streamjobs.settings import Settings, load_settings

CLEANUP_APP = "bench-cleanup"
"""``application_name`` of the cleanup's connections, to find its transactions."""

SAMPLE_INTERVAL = 0.01
"""Seconds between looks at the cleanup's open transaction."""

WRITER_PAUSE = 0.002
"""Seconds the writer waits between inserts (about 300 rows/s on these machines)."""

SLOT = datetime.now(UTC).replace(microsecond=0)
RETENTION_DAYS = 90


@dataclass(frozen=True)
class Outcome:
    """One contender's figures."""

    seconds: float
    longest_transaction: float
    writer_p99: float
    writes: int
    """Inserts the writer made while the cleanup ran."""


def fill(engine: Engine, rows: int) -> None:
    """Empty both tables, then ``rows`` rows over both, half older than the cutoff."""
    per_table = rows // 2
    cutoff = SLOT - timedelta(days=RETENTION_DAYS)
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE audit_logs, system_logs, job_runs"))
        for table, column in (("audit_logs", "action"), ("system_logs", "message")):
            # Old rows every other id, so both halves interleave on disk as real logs would not;
            # the cleanup cannot profit from deleting one contiguous block.
            connection.execute(
                text(
                    f"INSERT INTO {table} (created_at, {column})"
                    " SELECT CASE WHEN n % 2 = 0 THEN :old ELSE :new END"
                    " - (n % 86400) * interval '1 second', 'bench row ' || n"
                    " FROM generate_series(1, :rows) AS n"
                ),
                {"old": cutoff - timedelta(days=1), "new": SLOT, "rows": per_table},
            )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE audit_logs, system_logs"))


def _write(url: str, stop: EventType, results: Connection) -> None:
    """The writer process: insert one row per transaction until ``stop``; send the timings."""
    engine = create_engine(url)
    insert = text("INSERT INTO audit_logs (action) VALUES ('writer')")
    writes: list[tuple[float, float]] = []
    with engine.connect() as connection:
        while not stop.is_set():
            started = time.perf_counter()
            connection.execute(insert)
            connection.commit()
            writes.append((started, time.perf_counter() - started))
            time.sleep(WRITER_PAUSE)
    results.send(writes)
    engine.dispose()


class Writer:
    """A separate process inserting log rows, as the application would (and free of our GIL).

    ``time.perf_counter`` is the system's monotonic clock, so its timings
    compare with this process's.
    """

    def __init__(self, url: str) -> None:
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._receive, send = context.Pipe(duplex=False)
        self._process = context.Process(target=_write, args=(url, self._stop, send))
        self.writes: list[tuple[float, float]] = []
        """(start, latency) of each insert, in ``time.perf_counter`` seconds."""

    @contextmanager
    def running(self) -> Iterator[Writer]:
        self._process.start()
        try:
            yield self
        finally:
            self._stop.set()
            self.writes = self._receive.recv()
            self._process.join()

    def latencies(self, start: float, end: float) -> list[float]:
        """Latencies of the inserts that started between ``start`` and ``end``."""
        return [latency for began, latency in self.writes if start <= began <= end]


class LongestTransaction:
    """Samples how long the cleanup's current transaction has been open."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._stop = threading.Event()
        self.longest = 0.0
        self._thread = threading.Thread(target=self._run, name="sampler")

    def _run(self) -> None:
        query = text(
            "SELECT COALESCE(EXTRACT(EPOCH FROM max(clock_timestamp() - xact_start)), 0)"
            " FROM pg_stat_activity WHERE application_name = :app AND xact_start IS NOT NULL"
        )
        with self._engine.connect() as connection:
            while not self._stop.is_set():
                age = float(connection.execute(query, {"app": CLEANUP_APP}).scalar_one())
                connection.rollback()
                self.longest = max(self.longest, age)
                time.sleep(SAMPLE_INTERVAL)

    @contextmanager
    def running(self) -> Iterator[LongestTransaction]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()


def measure(engine: Engine, cleanup: Callable[[], None]) -> Outcome:
    """Run ``cleanup`` with the writer and the sampler on."""
    writer = Writer(engine.url.render_as_string(hide_password=False))
    sampler = LongestTransaction(engine)
    with writer.running(), sampler.running():
        time.sleep(2.0)  # the writer's start and first, slower inserts are not the cleanup's doing
        started = time.perf_counter()
        cleanup()
        ended = time.perf_counter()
    latencies = writer.latencies(started, ended)
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) > 1 else latencies[0]
    return Outcome(ended - started, sampler.longest, p99, len(latencies))


def batched(settings: Settings, cleanup_engine: Engine) -> Callable[[], None]:
    handler = CleanupHandler(
        engine=cleanup_engine,
        retention_days=RETENTION_DAYS,
        batch_size=settings.cleanup_batch_size,
        lock_timeout=60.0,
        monitor=Monitor(settings),
    )
    context = Context(
        event_id="bench", attempt=1, max_attempts=1, topic="bench", partition=0, offset=0
    )
    return lambda: asyncio.run(handler(AuditCleanup(scheduled_for=SLOT), context))


def plain(cleanup_engine: Engine) -> Callable[[], None]:
    cutoff = SLOT - timedelta(days=RETENTION_DAYS)

    def run() -> None:
        with cleanup_engine.begin() as connection:
            for table in ("audit_logs", "system_logs"):
                connection.execute(
                    text(f"DELETE FROM {table} WHERE created_at < :cutoff"), {"cutoff": cutoff}
                )

    return run


def baseline(engine: Engine, seconds: float) -> Outcome:
    return measure(engine, lambda: time.sleep(seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--baseline-seconds", type=float, default=10.0)
    args = parser.parse_args()
    settings = load_settings()
    engine = create_engine(settings.sqlalchemy_url)
    cleanup_engine = create_engine(
        settings.sqlalchemy_url, connect_args={"application_name": CLEANUP_APP}
    )
    outcomes: dict[str, Outcome] = {}
    contenders: list[tuple[str, Callable[[], Outcome]]] = [
        ("no cleanup", lambda: baseline(engine, args.baseline_seconds)),
        ("batched", lambda: measure(engine, batched(settings, cleanup_engine))),
        ("plain DELETE", lambda: measure(engine, plain(cleanup_engine))),
    ]
    for name, contender in contenders:
        filled = time.perf_counter()
        fill(engine, args.rows)
        print(f"filled {args.rows:,} rows in {time.perf_counter() - filled:.1f} s", flush=True)
        outcomes[name] = contender()
        print(f"{name}: {outcomes[name]}", flush=True)
    reference = outcomes["no cleanup"].writer_p99
    batch = settings.cleanup_batch_size
    print(f"\n{args.rows:,} rows, half older than the cutoff; batch {batch:,}")
    print(
        f"{'contender':<14}{'total s':>9}{'longest tx s':>14}{'writes':>8}"
        f"{'writer p99 ms':>15}{'vs idle':>9}"
    )
    for name, outcome in outcomes.items():
        total = "-" if name == "no cleanup" else f"{outcome.seconds:.1f}"
        longest = "-" if name == "no cleanup" else f"{outcome.longest_transaction:.2f}"
        print(
            f"{name:<14}{total:>9}{longest:>14}{outcome.writes:>8}"
            f"{outcome.writer_p99 * 1000:>15.2f}{outcome.writer_p99 / reference:>8.2f}x"
        )


if __name__ == "__main__":
    main()

"""Webhook delivery throughput: the streamjobs job against a bare HTTP loop and a naive loop.

Run with the local services up (``make services``)::

    .venv/bin/python bench/bench_webhooks.py [--events 20000] [--naive-events 500] [--rounds 3]

A receiver (``bench/receiver.py``, an asyncio HTTP/1.1 keep-alive server in a
process of its own) answers every POST with 200 after 20 ms and counts the
answers it writes. One endpoint is registered for the receiver. Each of
``--rounds`` interleaved rounds fills a ``webhook.send`` topic of its own (a
fresh topic prefix), then runs (b), then (a), so that a noisy moment of this
shared machine weighs on one round, not on one contender (each round
then runs (d) last):

(a) streamjobs: one Runner with the webhook job at concurrency 100, in a
    child process; afterwards every ``webhook_deliveries`` row of this run's
    events must exist (rows are matched by event id, which starts with the
    run's topic prefix);
(b) the ceiling: the same number of POSTs by a bare aiohttp loop (one
    session, ``TCPConnector(limit=100)``, 100 workers), no Kafka, no database;
(d) the client alone: the same POSTs by streamjobs' own HTTP client
    (``WebhookClient``, on uvloop, as the job runs it), no Kafka, no
    database, no runtime: what this receiver allows at this concurrency
    on this machine. (a)/(d) is what the runtime costs; when (b)/(d) is
    near 1 too, both contenders are at the receiver's pace and (a)/(b)
    cannot rise above about 1;
(c) once, after the rounds: the obvious implementation, a confluent-kafka
    consumer (its own group) taking one message at a time, with a synchronous
    ``httpx.Client.post`` and one INSERT per delivery, on ``--naive-events``
    events of the last round's topic.

The database is ``DATABASE_URL`` (default: the dev database). Tests empty
every table of the database they use before each test (``tests/conftest.py``,
``db``), the registered endpoint included, so while tests run against the dev
database point the benchmark at a database of its own::

    DATABASE_URL=postgresql://streamjobs:streamjobs@127.0.0.1:54329/streamjobs_bench \\
        .venv/bin/python bench/bench_webhooks.py

Rates are deliveries/s as counted by the receiver, from its first answer to
its last, so group joins and connection setup do not count. Memory is the
peak RSS (``VmHWM``) of the child process that runs (a), next to its value
once imports are done and before the Runner starts. The ideal at concurrency
100 and 20 ms is 5,000/s; the targets are (a)/(b) >= 1.0 and (a) >= 0.75
of the ideal, judged on the median round (by its (a)/(b)). "in flight" is
the most requests the receiver held at once: no contender may exceed the
concurrency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as ProcessEvent
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen

import httpx
import uvloop
from aiohttp import ClientSession, TCPConnector
from confluent_kafka import Consumer, Message, Producer
from sqlalchemy import Engine, func, insert, select

from consumers.runtime.runner import Runner
from consumers.webhook.client import open_client
from consumers.webhook.job import JOB, WEBHOOK_OVERLAP, encode_body
from consumers.webhook.registry import Endpoint, add_endpoint, disable_endpoint, get_endpoint
from consumers.webhook.signing import parse_secret, sign
from schemas.events import WebhookSend
from schemas.headers import EVENT_ID
from schemas.tables import webhook_deliveries
from schemas.topics import WEBHOOK_SEND
from streamjobs.database import sync_engine, upgrade
from streamjobs.kafka import client_config, create_topics, topic_set
from streamjobs.logs import configure_logging
from streamjobs.settings import Settings, load_settings

CONCURRENCY = 100
"""In-flight requests of (a), (b) and (d)."""

RECEIVER_DELAY = 0.020
"""Seconds the receiver waits before each answer."""

STALL_TIMEOUT = 60.0
"""Give up on a run when the receiver counts nothing new for this long."""

NAIVE_PREFIX = "naive:"
"""Event ids of the naive loop's rows get this in front, so they never clash with (a)'s."""


# -- the receiver process ------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    """Answers the receiver counted, seconds from the first to the last, and the
    most requests it held at once (the client's real concurrency)."""

    count: int
    seconds: float
    peak: int = 0

    @property
    def per_second(self) -> float:
        return (self.count - 1) / self.seconds if self.seconds > 0 else 0.0


class ReceiverProcess:
    """``bench/receiver.py`` in a subprocess; talks to its control paths."""

    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self._process = process
        self.port = port

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _call(self, path: str, method: str = "GET") -> dict[str, Any]:
        with urlopen(
            Request(self.url(path), method=method, data=b"" if method == "POST" else None)
        ) as response:
            answer: dict[str, Any] = json.loads(response.read())
        return answer

    def reset(self) -> None:
        self._call("/reset", "POST")

    def arrivals(self) -> dict[str, list[float]]:
        """Epoch seconds of every request by ``webhook-id``, in order."""
        return self._call("/arrivals")

    def rate(self) -> Rate:
        stats = self._call("/stats")
        return Rate(stats["count"], stats["last"] - stats["first"], stats["peak"])

    def wait_for(self, count: int) -> Rate:
        """Poll until ``count`` answers were written; stop early when progress stalls."""
        seen, progress_at = -1, time.monotonic()
        while (rate := self.rate()).count < count:
            if rate.count != seen:
                seen, progress_at = rate.count, time.monotonic()
            elif time.monotonic() - progress_at > STALL_TIMEOUT:
                print(f"  stalled at {rate.count:,} of {count:,} answers", file=sys.stderr)
                break
            time.sleep(0.2)
        return rate


@contextmanager
def receiver_process(delay: float, *options: str) -> Iterator[ReceiverProcess]:
    """``bench/receiver.py --delay DELAY OPTIONS``, running until the block ends."""
    script = Path(__file__).with_name("receiver.py")
    command = [sys.executable, str(script), "--delay", str(delay), *options]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            if not line.startswith("PORT "):
                raise RuntimeError(f"receiver did not start: {line!r}")
            yield ReceiverProcess(process, int(line.split()[1]))
        finally:
            process.terminate()


# -- setup ---------------------------------------------------------------------------


def fill(settings: Settings, topic: str, webhook_id: uuid.UUID, count: int) -> None:
    """``count`` webhook events with ids ``<prefix>000000`` onward in the ``event-id`` header."""
    producer = Producer(client_config(settings) | {"linger.ms": 20, "batch.size": 1_000_000})
    for n in range(count):
        value = json.dumps(
            {
                "webhook_id": str(webhook_id),
                "event_type": "invoice.paid",
                "payload": {"invoice": f"in_{n:06d}", "amount": 4200 + n, "currency": "EUR"},
            }
        ).encode()
        headers: list[tuple[str, str | bytes | None]] = [
            (EVENT_ID, f"{settings.kafka_topic_prefix}{n:06d}")
        ]
        while True:
            try:
                producer.produce(topic, value, headers=headers)
                break
            except BufferError:
                producer.poll(0.1)
    producer.flush(60)


def count_rows(engine: Engine, prefix: str) -> tuple[int, int]:
    """Delivery rows whose event id starts with ``prefix``: all, and successful ones."""
    matching = func.left(webhook_deliveries.c.event_id, len(prefix)) == prefix
    query = select(
        func.count(), func.count().filter(webhook_deliveries.c.outcome == "success")
    ).where(matching)
    with engine.connect() as connection:
        total, successes = connection.execute(query).one()
    return int(total), int(successes)


# -- (a) streamjobs ------------------------------------------------------------------


@dataclass(frozen=True)
class Memory:
    """``VmHWM`` of the streamjobs process in KiB: before the Runner started, and at the
    end; and the CPU seconds (every thread) the Runner's run took."""

    start_kib: int
    peak_kib: int
    exit_status: int
    cpu_seconds: float


def vm_hwm_kib() -> int:
    """This process's peak resident set size so far, in KiB (``/proc/self/status``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def streamjobs_child(overrides: dict[str, Any], stop: ProcessEvent, results: Connection) -> None:
    """Child process: run the webhook job until ``stop`` is set; send back a ``Memory``."""
    configure_logging(level="WARNING", fmt="text")
    settings = load_settings(**overrides)
    start = vm_hwm_kib()
    started_cpu = time.process_time()
    runner = Runner([JOB], settings)  # concurrency: CONSUMER_CONCURRENCY in ``overrides``
    status: list[int] = []
    thread = threading.Thread(target=lambda: status.append(runner.run()))
    thread.start()
    stop.wait()
    runner.stop()
    thread.join()
    cpu = time.process_time() - started_cpu
    results.send(Memory(start, vm_hwm_kib(), status[0] if status else -1, cpu))


def run_streamjobs(
    overrides: dict[str, Any], receiver: ReceiverProcess, events: int
) -> tuple[Rate, Memory]:
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    reader, writer = context.Pipe(duplex=False)
    child = context.Process(target=streamjobs_child, args=(overrides, stop, writer))
    receiver.reset()
    child.start()
    rate = receiver.wait_for(events)
    stop.set()
    memory: Memory = reader.recv()  # after the Runner drained: every row is written
    child.join()
    return rate, memory


# -- (b) the ceiling -----------------------------------------------------------------


def sample_request() -> tuple[bytes, dict[str, str]]:
    """A body and headers shaped like the job's, signed once with a throwaway key."""
    event = WebhookSend(
        webhook_id=uuid.uuid4(),
        event_type="invoice.paid",
        payload={"invoice": "in_000000", "amount": 4200, "currency": "EUR"},
    )
    now = datetime.now(UTC)
    body = encode_body(event, now)
    stamp = int(now.timestamp())
    headers = {
        "webhook-id": "ceiling",
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign("ceiling", stamp, body, [b"k" * 24]),
        "content-type": "application/json",
    }
    return body, headers


async def post_all(url: str, events: int) -> None:
    """POST ``events`` bodies to ``url``, ``CONCURRENCY`` at a time, over one pool."""
    body, headers = sample_request()
    remaining = iter(range(events))
    async with ClientSession(connector=TCPConnector(limit=CONCURRENCY)) as session:

        async def worker() -> None:
            for n in remaining:
                request_headers = headers | {"webhook-id": f"ceiling{n:06d}"}
                async with session.post(url, data=body, headers=request_headers) as response:
                    await response.read()

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


async def post_alone(settings: Settings, url: str, events: int) -> None:
    """POST ``events`` bodies to ``url`` with the job's client, as many callers as the
    job's calls, ``CONCURRENCY`` POSTs in flight."""
    body, headers = sample_request()
    remaining = iter(range(events))
    async with open_client(settings, connections=CONCURRENCY) as client:

        async def caller() -> None:
            for n in remaining:
                await client.post(url, body, headers | {"webhook-id": f"alone{n:06d}"})

        await asyncio.gather(*(caller() for _ in range(CONCURRENCY * WEBHOOK_OVERLAP)))


def run_alone(settings: Settings, receiver: ReceiverProcess, events: int) -> Rate:
    """(d)'s rate."""
    receiver.reset()
    uvloop.run(post_alone(settings, receiver.url(), events))
    return receiver.rate()


def run_ceiling(receiver: ReceiverProcess, events: int) -> tuple[Rate, float]:
    """The ceiling's rate, and the CPU seconds its loop took."""
    receiver.reset()
    started_cpu = time.process_time()
    asyncio.run(post_all(receiver.url(), events))
    return receiver.rate(), time.process_time() - started_cpu


# -- (c) the naive loop --------------------------------------------------------------


class NaiveDelivery:
    """One delivery at a time: validate, sign, POST synchronously, INSERT its row.

    Args:
        engine: where rows go (and endpoints come from, cached).
        client: the synchronous HTTP client.
        row_prefix: put in front of each row's event id (default ``NAIVE_PREFIX``),
            so rows never clash with (a)'s.
    """

    def __init__(self, engine: Engine, client: httpx.Client, *, row_prefix: str = NAIVE_PREFIX):
        self._engine = engine
        self._client = client
        self._row_prefix = row_prefix
        self._endpoints: dict[uuid.UUID, Endpoint] = {}

    def deliver(self, message: Message) -> None:
        """Deliver a ``webhook.send`` message."""
        raw_id = dict(message.headers() or [])[EVENT_ID]
        event_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
        origin = (message.topic() or "", message.partition() or 0, message.offset() or 0)
        self.send(message.value() or b"", event_id, origin=origin)

    def send(self, value: bytes, event_id: str, *, origin: tuple[str, int, int]) -> None:
        """Deliver the event ``value``; ``origin`` is the row's topic, partition and offset."""
        event = WebhookSend.model_validate_json(value)
        endpoint = self._endpoint(event.webhook_id)
        now = datetime.now(UTC)
        body = encode_body(event, now)
        stamp = int(now.timestamp())
        keys = [parse_secret(endpoint.secret)]
        headers = {
            "webhook-id": event_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": sign(event_id, stamp, body, keys),
            "content-type": "application/json",
        }
        started = time.monotonic()
        response = self._client.post(endpoint.url, content=body, headers=headers)
        topic, partition, offset = origin
        row = {
            "event_id": self._row_prefix + event_id,
            "webhook_id": event.webhook_id,
            "attempt": 1,
            "outcome": "success" if response.is_success else "fatal",
            "http_status": response.status_code,
            "duration_ms": round((time.monotonic() - started) * 1000),
            "response_excerpt": response.text[:16384],
            "topic": topic,
            "partition": partition,
            "offset": offset,
        }
        with self._engine.begin() as connection:
            connection.execute(insert(webhook_deliveries).values(row))

    def _endpoint(self, webhook_id: uuid.UUID) -> Endpoint:
        if webhook_id not in self._endpoints:
            endpoint = get_endpoint(self._engine, webhook_id)
            assert endpoint is not None, f"unknown webhook {webhook_id}"
            self._endpoints[webhook_id] = endpoint
        return self._endpoints[webhook_id]


def run_naive(settings: Settings, topic: str, receiver: ReceiverProcess, events: int) -> Rate:
    group = f"{settings.kafka_topic_prefix}naive-{uuid.uuid4().hex[:8]}"
    consumer = Consumer(
        client_config(settings) | {"group.id": group, "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    engine = sync_engine(settings)
    receiver.reset()
    handled = 0
    try:
        with httpx.Client(timeout=settings.webhook_timeout, trust_env=False) as client:
            delivery = NaiveDelivery(engine, client)
            while handled < events:
                message = consumer.poll(1.0)
                if message is None or message.error() is not None:
                    continue
                delivery.deliver(message)
                handled += 1
    finally:
        consumer.close()
        engine.dispose()
    return receiver.rate()


# -- main ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Round:
    """One interleaved round: the ceiling, streamjobs and the client alone, over a topic
    of its own."""

    streamjobs: Rate
    ceiling: Rate
    alone: Rate
    memory: Memory
    ceiling_cpu_seconds: float
    rows: tuple[int, int]

    @property
    def ratio(self) -> float:
        """(a)/(b) of this round."""
        return self.streamjobs.per_second / self.ceiling.per_second


def run_round(
    engine: Engine, receiver: ReceiverProcess, endpoint_id: uuid.UUID, events: int
) -> tuple[Round, Settings]:
    """(b), (a) over a fresh topic of ``events`` events, then (d); returns the round and
    its settings."""
    prefix = f"bench-webhooks-{uuid.uuid4().hex[:8]}."
    overrides = {
        "kafka_topic_prefix": prefix,
        "webhook_allow_private_networks": True,
        "consumer_concurrency": CONCURRENCY,
    }
    settings = load_settings(**overrides)
    topics = topic_set(settings, WEBHOOK_SEND)
    create_topics(settings, [topics])
    print(f"prefix {prefix}: filling {topics.main} with {events:,} events", flush=True)
    fill(settings, topics.main, endpoint_id, events)
    print("  (b) ceiling ...", flush=True)
    ceiling, ceiling_cpu = run_ceiling(receiver, events)
    print("  (a) streamjobs ...", flush=True)
    streamjobs, memory = run_streamjobs(overrides, receiver, events)
    rows = count_rows(engine, prefix)
    print("  (d) the client alone ...", flush=True)
    alone = run_alone(settings, receiver, events)
    return Round(streamjobs, ceiling, alone, memory, ceiling_cpu, rows), settings


def report(rounds: list[Round], naive: Rate, *, events: int) -> None:
    """Each round, then the median round (by its ratio) against the targets."""
    ideal = CONCURRENCY / RECEIVER_DELAY
    print(
        f"\nwebhook delivery: receiver answers after {RECEIVER_DELAY * 1000:.0f} ms,"
        f" concurrency {CONCURRENCY} (ideal {ideal:,.0f}/s), {events:,} events per run"
    )
    print(
        f"{'round':<7}{'(b) ceiling/s':>14}{'(a) streamjobs/s':>18}{'(a)/(b)':>9}{'of ideal':>10}"
        f"{'(d) alone/s':>13}{'(a)/(d)':>9}{'(b)/(d)':>9}"
        f"{'in flight':>11}{'CPU (a)':>9}{'CPU (b)':>9}  rows of (a)"
    )
    per_event = 1e6 / events
    for number, run in enumerate(rounds, start=1):
        a, b, d = run.streamjobs.per_second, run.ceiling.per_second, run.alone.per_second
        total, successes = run.rows
        rows = "ok" if successes == events else f"MISSING ({successes:,} of {events:,})"
        print(
            f"{number:<7}{b:>14,.0f}{a:>18,.0f}{a / b:>9.2f}{a / ideal:>10.2f}"
            f"{d:>13,.0f}{a / d:>9.2f}{b / d:>9.2f}"
            f"{max(run.streamjobs.peak, run.ceiling.peak, run.alone.peak):>11}"
            f"{run.memory.cpu_seconds * per_event:>7.0f}us"
            f"{run.ceiling_cpu_seconds * per_event:>7.0f}us"
            f"  {rows} ({total:,} rows)"
        )
    median = sorted(rounds, key=lambda run: run.ratio)[len(rounds) // 2]
    a, b = median.streamjobs.per_second, median.ceiling.per_second
    met = a / b >= 1.0 and a / ideal >= 0.75
    print(
        f"median round: (a)/(b) = {a / b:.2f}, (a)/ideal = {a / ideal:.2f}"
        f" (target >= 1.0 and >= 0.75: {'ok' if met else 'BELOW TARGET'});"
        f"  (c) naive, one message at a time: {naive.per_second:,.0f}/s,"
        f" (a)/(c) = {a / naive.per_second:.0f}x"
    )
    memory = median.memory
    print(
        "CPU per delivery: (a) every thread of the process, startup and drain included;"
        f" peak RSS (VmHWM) of (a) in the median round: {memory.peak_kib / 1024:.0f} MiB"
        f" ({memory.start_kib / 1024:.0f} MiB after imports);"
        f" runner exit status {memory.exit_status}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--naive-events", type=int, default=500)
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="interleaved rounds of (b) then (a); the median counts",
    )
    args = parser.parse_args()
    configure_logging(level="WARNING", fmt="text")
    settings = load_settings()
    upgrade(settings)
    engine = sync_engine(settings)
    with receiver_process(RECEIVER_DELAY) as receiver:
        endpoint = add_endpoint(engine, receiver.url(), description="bench_webhooks")
        rounds: list[Round] = []
        for _ in range(args.rounds):
            run, round_settings = run_round(engine, receiver, endpoint.id, args.events)
            rounds.append(run)
        print("(c) naive ...", flush=True)
        topic = topic_set(round_settings, WEBHOOK_SEND).main
        naive = run_naive(round_settings, topic, receiver, args.naive_events)
        disable_endpoint(engine, endpoint.id, "benchmark finished")
    engine.dispose()
    report(rounds, naive, events=args.events)


if __name__ == "__main__":
    main()

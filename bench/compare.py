"""Side by side: streamjobs, the obvious consumer, Celery and a bare aiohttp loop (``make bench``).

One run, about four minutes, against the Kafka and PostgreSQL of
``KAFKA_BOOTSTRAP_SERVERS`` and ``DATABASE_URL`` (the shared dev services;
every part uses a fresh topic prefix, so nothing is stopped or emptied) and a
private ``redis-server`` on a free port (started and stopped here)::

    make bench        # installs the bench extra (Celery, redis-py), then runs this

Every receiver is ``bench/receiver.py`` in a process of its own. Parts:

1. throughput, receiver answering after 20 ms, 100 in flight: the bare
   aiohttp loop (no broker, no database; the baseline of every ratio), then
   ``streamjobs consume webhook`` with 1 and with 2 processes, the obvious
   consumer (one message at a time, synchronous httpx, one INSERT each) and
   Celery on Redis (threads pool, concurrency 100, the same work per task);
   deliveries/s as the receiver counts them, first answer to last. The loop
   and streamjobs run in ``--rounds`` interleaved rounds (default 3; medians
   count, each streamjobs ratio against the loop of its own round);
2. end-to-end latency at 200 events/s: produce to arrival at the receiver
   through one streamjobs process, against a bare produce-to-consume hop
   through the same broker (a plain consumer that only reads);
3. retry lateness: the receiver answers 503 to each event's first request;
   with ``RETRY_DELAYS=1s``, how late the second request arrives after the
   ``x-not-before`` of its delay-topic message;
4. peak RSS (``VmHWM``) per consumer process with 1,000 in flight (receiver
   answering after 2 s): streamjobs, and a Celery worker with 1,000 threads.

Results go to ``bench/results/compare.json`` and ``compare.md`` with the machine
and the date; the README's benchmark section shows the table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Message, Producer
from confluent_kafka.admin import AdminClient
from sqlalchemy import Engine

from bench.bench_webhooks import (
    ReceiverProcess,
    count_rows,
    fill,
    receiver_process,
    run_ceiling,
    run_naive,
)
from consumers.webhook.registry import add_endpoint, disable_endpoint
from schemas.headers import EVENT_ID, NOT_BEFORE
from schemas.topics import WEBHOOK_SEND, TopicSet, TopicSpec
from streamjobs.database import sync_engine, upgrade
from streamjobs.kafka import client_config, create_topics, topic_set
from streamjobs.logs import configure_logging
from streamjobs.settings import Settings, load_settings

CONCURRENCY = 100
"""In flight in the throughput runs, for every contender."""

RECEIVER_DELAY = 0.020
"""Seconds the throughput receiver waits before each answer."""

LATENCY_RATE = 200.0
"""Events per second produced in the latency run."""

WARM_UP = 200
"""Events produced first and left out of the percentiles (1 s at 200/s): the first
delivery of a process opens the endpoint cache, an HTTP connection and a database
connection, about 0.7 s, which a steady-state percentile should not count."""

RETRY_DELAY = "1s"
"""``RETRY_DELAYS`` of the retry-lateness run."""

MEMORY_IN_FLIGHT = 1000
"""In flight in the memory run."""

MEMORY_DELAY = 2.0
"""Seconds the memory run's receiver waits, so that 1,000 stay in flight."""

GROUP_TIMEOUT = 60.0
"""Seconds to wait for consumers to join their group."""

RESULTS = Path(__file__).with_name("results")
"""Where the JSON and Markdown results go."""

STREAMJOBS = str(Path(sys.executable).with_name("streamjobs"))
"""The installed console script."""


# -- helpers -----------------------------------------------------------------------


def vm_hwm_kib(pid: int) -> int:
    """Peak resident set size of process ``pid`` so far, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmHWM for process {pid}")


def children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def header_text(message: Message, name: str) -> str:
    """The header ``name`` of ``message`` as text (it must be there)."""
    value = dict(message.headers() or [])[name]
    return value.decode() if isinstance(value, bytes) else str(value)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.2)


def group_assigned(settings: Settings, group: str, members: int) -> bool:
    """True once ``group`` has ``members`` members that each hold partitions."""
    admin = AdminClient(client_config(settings))
    (future,) = admin.describe_consumer_groups([group], request_timeout=10).values()
    described = future.result()
    return len(described.members) == members and all(
        member.assignment.topic_partitions for member in described.members
    )


@dataclass
class Part:
    """A fresh topic prefix, its settings and its webhook topic set."""

    settings: Settings
    env: dict[str, str]

    @classmethod
    def new(cls, name: str, **overrides: Any) -> Part:
        prefix = f"bench-compare-{name}-{uuid.uuid4().hex[:6]}."
        settings = load_settings(
            kafka_topic_prefix=prefix, webhook_allow_private_networks=True, **overrides
        )
        create_topics(settings, [topic_set(settings, WEBHOOK_SEND)])
        env = os.environ | {
            "KAFKA_TOPIC_PREFIX": prefix,
            "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
            "LOG_LEVEL": "WARNING",
            "LOG_FORMAT": "text",
        }
        return cls(settings, env)

    @property
    def prefix(self) -> str:
        return self.settings.kafka_topic_prefix

    @property
    def topics(self) -> TopicSet:
        return topic_set(self.settings, WEBHOOK_SEND)


@contextmanager
def consuming(part: Part, *args: str, processes: int = 1, **env: str) -> Iterator[list[int]]:
    """``streamjobs consume webhook`` running, joined; yields the consumer process ids.

    Stopped with SIGTERM at the end; a non-zero exit status fails the benchmark.
    """
    command = [STREAMJOBS, "consume", "webhook", "--processes", str(processes), *args]
    process = subprocess.Popen(command, env=part.env | env)
    try:
        wait_for(
            lambda: group_assigned(part.settings, part.topics.group, processes),
            timeout=GROUP_TIMEOUT,
            what=f"{processes} consumer(s) to join",
        )
        yield [process.pid] if processes == 1 else children(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        status = process.wait(120)
    if status != 0:
        raise RuntimeError(f"streamjobs consume exited {status}")


# -- 1. throughput ---------------------------------------------------------------------


@dataclass
class Throughput:
    name: str
    delivered: int
    per_second: float
    peak: int
    rows_ok: bool | None = None
    rounds: list[float] = field(default_factory=list)
    """Deliveries/s of each interleaved round, when there were rounds."""
    vs_loop: float | None = None
    """The median over rounds of this contender's rate over the loop's of the same round."""


def median_of_rounds(runs: list[Throughput], loop: list[Throughput]) -> Throughput:
    """The run of median rate, with every round's rate and the median ratio to ``loop``.

    Args:
        runs: one contender's run of each round.
        loop: the bare loop's run of the same rounds, in the same order.
    """
    rates = [run.per_second for run in runs]
    ratios = [run.per_second / base.per_second for run, base in zip(runs, loop, strict=True)]
    median = sorted(runs, key=lambda run: run.per_second)[len(runs) // 2]
    return Throughput(
        median.name,
        median.delivered,
        median.per_second,
        max(run.peak for run in runs),
        all(run.rows_ok is not False for run in runs) if median.rows_ok is not None else None,
        rates,
        statistics.median(ratios),
    )


def streamjobs_throughput(
    engine: Engine, receiver: ReceiverProcess, events: int, processes: int
) -> Throughput:
    part = Part.new(f"sj{processes}")
    endpoint = add_endpoint(engine, receiver.url(), description=f"bench {part.prefix}")
    receiver.reset()
    with consuming(part, "--concurrency", str(CONCURRENCY), processes=processes):
        fill(part.settings, part.topics.main, endpoint.id, events)
        rate = receiver.wait_for(events)
    successes = count_rows(engine, part.prefix)[1]
    disable_endpoint(engine, endpoint.id, "benchmark finished")
    name = f"streamjobs, {processes} process{'es' if processes > 1 else ''}"
    return Throughput(name, rate.count, rate.per_second, rate.peak, successes == events)


def loop_throughput(receiver: ReceiverProcess, events: int) -> Throughput:
    rate, _ = run_ceiling(receiver, events)
    name = "bare aiohttp loop (no broker, no database)"
    return Throughput(name, rate.count, rate.per_second, rate.peak)


def naive_throughput(engine: Engine, receiver: ReceiverProcess, events: int) -> Throughput:
    part = Part.new("naive")
    endpoint = add_endpoint(engine, receiver.url(), description=f"bench {part.prefix}")
    fill(part.settings, part.topics.main, endpoint.id, events)
    rate = run_naive(part.settings, part.topics.main, receiver, events)
    disable_endpoint(engine, endpoint.id, "benchmark finished")
    return Throughput(
        "obvious consumer: one at a time, sync httpx", rate.count, rate.per_second, rate.peak
    )


@contextmanager
def redis_server() -> Iterator[str]:
    """A private ``redis-server`` (no persistence) on a free port; yields its URL."""
    port = free_port()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no"]
    with subprocess.Popen(command, stdout=subprocess.DEVNULL) as process:
        try:
            wait_for(lambda: _answers(port), timeout=10, what="redis-server")
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def queue_tasks(redis_url: str, webhook_id: uuid.UUID, prefix: str, events: int) -> None:
    os.environ["BENCH_REDIS_URL"] = redis_url
    from bench.celery_app import app, deliver  # reads BENCH_REDIS_URL at import

    app.conf.broker_url = redis_url
    with app.producer_or_acquire() as producer:
        for n in range(events):
            value = json.dumps(
                {"webhook_id": str(webhook_id), "event_type": "invoice.paid", "payload": {"n": n}}
            )
            deliver.apply_async((value, f"{prefix}{n:06d}", n), producer=producer)


@contextmanager
def celery_worker(engine: Engine, redis_url: str, concurrency: int) -> Iterator[int]:
    """A Celery worker (threads pool) on ``redis_url``, logging to ``engine``'s database;
    yields its process id."""
    command = [sys.executable, "-m", "celery", "-A", "bench.celery_app", "worker"]
    command += ["--pool", "threads", "--concurrency", str(concurrency), "--loglevel", "WARNING"]
    command += ["--without-heartbeat", "--without-gossip", "--without-mingle"]
    env = os.environ | {
        "BENCH_REDIS_URL": redis_url,
        "BENCH_CELERY_CONCURRENCY": str(concurrency),
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "PYTHONPATH": str(Path(__file__).parent.parent),
    }
    with subprocess.Popen(command, env=env) as process:
        try:
            yield process.pid
        finally:
            process.send_signal(signal.SIGTERM)  # warm shutdown: the running tasks finish
            process.wait(60)


def celery_throughput(
    engine: Engine, receiver: ReceiverProcess, redis_url: str, events: int
) -> Throughput:
    endpoint = add_endpoint(engine, receiver.url(), description="bench celery")
    prefix = f"bench-celery-{uuid.uuid4().hex[:6]}."
    queue_tasks(redis_url, endpoint.id, prefix, events)
    receiver.reset()
    with celery_worker(engine, redis_url, CONCURRENCY):
        rate = receiver.wait_for(events)
    disable_endpoint(engine, endpoint.id, "benchmark finished")
    if rate.count < events:  # its tasks failed: a rate of them would mean nothing
        raise RuntimeError(f"the Celery worker delivered {rate.count:,} of {events:,} events")
    name = f"Celery + Redis, threads pool, concurrency {CONCURRENCY}"
    return Throughput(name, rate.count, rate.per_second, rate.peak)


# -- 2. latency ------------------------------------------------------------------------


def paced_produce(
    settings: Settings, topic: str, ids: list[str], value: Callable[[int], bytes]
) -> dict[str, float]:
    """Produce one message per id at ``LATENCY_RATE``; returns each id's produce time."""
    producer = Producer(client_config(settings))
    produced: dict[str, float] = {}
    start = time.monotonic()
    for n, event_id in enumerate(ids):
        delay = start + n / LATENCY_RATE - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        produced[event_id] = time.time()
        producer.produce(topic, value(n), headers=[(EVENT_ID, event_id)])
        producer.poll(0)
    producer.flush(30)
    return produced


@dataclass
class Latency:
    name: str
    p50_ms: float
    p99_ms: float
    count: int
    first_ms: float
    """The first message's, cold (before the warm-up is left out)."""


def latency_of(
    name: str, produced: dict[str, float], arrived: dict[str, float], *, warm_up: int = 0
) -> Latency:
    """Percentiles of ``arrived - produced`` in ms, the first ``warm_up`` (in order) left out."""
    missing = [key for key in produced if key not in arrived]
    if missing:
        raise RuntimeError(f"{name}: {len(missing)} messages never arrived")
    latencies = [(arrived[key] - produced[key]) * 1000 for key in produced]
    counted = latencies[warm_up:]
    p50, p99 = percentile(counted, 0.5), percentile(counted, 0.99)
    return Latency(name, p50, p99, len(counted), latencies[0])


def bare_hop_latency(count: int) -> Latency:
    """Produce at ``LATENCY_RATE`` to a plain consumer that records when each message came."""
    settings = load_settings(kafka_topic_prefix=f"bench-compare-hop-{uuid.uuid4().hex[:6]}.")
    spec = TopicSpec(name="hop", job="hop", group="hop", model=WEBHOOK_SEND.model)
    topics = topic_set(settings, spec)
    create_topics(settings, [topics])
    consumer = Consumer(
        client_config(settings) | {"group.id": topics.group, "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topics.main])
    arrived: dict[str, float] = {}
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            # poll, not consume(n): consume waits for n messages or its timeout.
            message = consumer.poll(0.05)
            if message is not None and message.error() is None:
                arrived[header_text(message, EVENT_ID)] = time.time()

    reader = threading.Thread(target=read)
    reader.start()
    try:
        wait_for(lambda: group_assigned(settings, topics.group, 1), timeout=60, what="hop")
        ids = [f"hop{n:06d}" for n in range(WARM_UP + count)]
        produced = paced_produce(settings, topics.main, ids, lambda n: b"{}")
        wait_for(lambda: len(arrived) >= len(ids), timeout=60, what="the hop")
    finally:
        stop.set()
        reader.join()
        consumer.close()
    return latency_of("bare produce -> consume hop", produced, arrived, warm_up=WARM_UP)


def webhook_value(webhook_id: uuid.UUID) -> Callable[[int], bytes]:
    def value(n: int) -> bytes:
        event = {"webhook_id": str(webhook_id), "event_type": "invoice.paid", "payload": {"n": n}}
        return json.dumps(event).encode()

    return value


def streamjobs_latency(engine: Engine, count: int) -> Latency:
    with receiver_process(RECEIVER_DELAY) as receiver:
        part = Part.new("latency")
        endpoint = add_endpoint(engine, receiver.url(), description=f"bench {part.prefix}")
        with consuming(part):
            ids = [f"{part.prefix}{n:06d}" for n in range(WARM_UP + count)]
            produced = paced_produce(
                part.settings, part.topics.main, ids, webhook_value(endpoint.id)
            )
            receiver.wait_for(len(ids))
            arrivals = receiver.arrivals()
        disable_endpoint(engine, endpoint.id, "benchmark finished")
    first = {key: times[0] for key, times in arrivals.items()}
    name = "streamjobs: produce -> receiver, 1 process"
    return latency_of(name, produced, first, warm_up=WARM_UP)


# -- 3. retry lateness -------------------------------------------------------------------


def retry_lateness(engine: Engine, count: int) -> Latency:
    """How late each second attempt arrives after its ``x-not-before``."""
    with receiver_process(RECEIVER_DELAY, "--fail-first") as receiver:
        part = Part.new("retry", retry_delays=(1.0,))
        endpoint = add_endpoint(engine, receiver.url(), description=f"bench {part.prefix}")
        with consuming(part, RETRY_DELAYS=RETRY_DELAY):
            ids = [f"{part.prefix}{n:06d}" for n in range(count)]
            paced_produce(part.settings, part.topics.main, ids, webhook_value(endpoint.id))
            wait_for(
                lambda: sum(len(t) >= 2 for t in receiver.arrivals().values()) >= count,
                timeout=60,
                what="every second attempt",
            )
            arrivals = receiver.arrivals()
        disable_endpoint(engine, endpoint.id, "benchmark finished")
    due = not_before_of(part.settings, part.topics.retries[0], count)
    second = {key: times[1] for key, times in arrivals.items() if key in due}
    return latency_of("retry: second attempt's arrival - x-not-before", due, second)


def not_before_of(settings: Settings, topic: str, count: int) -> dict[str, float]:
    """``x-not-before`` (epoch seconds) of the first ``count`` messages of ``topic``, by id."""
    consumer = Consumer(
        client_config(settings)
        | {"group.id": f"bench-read-{uuid.uuid4().hex}", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    due: dict[str, float] = {}
    deadline = time.monotonic() + 60
    try:
        while len(due) < count and time.monotonic() < deadline:
            for message in consumer.consume(500, 0.5):
                if message.error() is None:
                    due[header_text(message, EVENT_ID)] = (
                        int(header_text(message, NOT_BEFORE)) / 1000
                    )
    finally:
        consumer.close()
    return due


# -- 4. memory ---------------------------------------------------------------------------


@dataclass
class MemoryUse:
    name: str
    peak_mib: float


def streamjobs_memory(engine: Engine, events: int) -> MemoryUse:
    with receiver_process(MEMORY_DELAY) as receiver:
        part = Part.new("memory")
        endpoint = add_endpoint(engine, receiver.url(), description=f"bench {part.prefix}")
        with consuming(part, "--concurrency", str(MEMORY_IN_FLIGHT)) as (pid,):
            fill(part.settings, part.topics.main, endpoint.id, events)
            receiver.wait_for(2 * MEMORY_IN_FLIGHT)  # two full rounds of 1,000
            peak = vm_hwm_kib(pid)
        disable_endpoint(engine, endpoint.id, "benchmark finished")
    return MemoryUse(f"streamjobs consume webhook --concurrency {MEMORY_IN_FLIGHT}", peak / 1024)


def celery_memory(engine: Engine, redis_url: str, events: int) -> MemoryUse:
    with receiver_process(MEMORY_DELAY) as receiver:
        endpoint = add_endpoint(engine, receiver.url(), description="bench celery memory")
        queue_tasks(redis_url, endpoint.id, f"bench-celery-mem-{uuid.uuid4().hex[:6]}.", events)
        with celery_worker(engine, redis_url, MEMORY_IN_FLIGHT) as pid:
            receiver.wait_for(2 * MEMORY_IN_FLIGHT)
            peak = vm_hwm_kib(pid)
        disable_endpoint(engine, endpoint.id, "benchmark finished")
    return MemoryUse(f"Celery worker, threads pool, concurrency {MEMORY_IN_FLIGHT}", peak / 1024)


# -- results -------------------------------------------------------------------------------


@dataclass
class Results:
    machine: dict[str, Any]
    date: str
    throughput: list[Throughput] = field(default_factory=list)
    latency: list[Latency] = field(default_factory=list)
    memory: list[MemoryUse] = field(default_factory=list)
    seconds: float = 0.0


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": platform.platform(),
        "load_average_at_start": os.getloadavg()[0],
    }


def markdown(results: Results) -> str:
    base = results.throughput[0].per_second
    ideal = CONCURRENCY / RECEIVER_DELAY
    lines = [
        f"Run {results.date}, {results.machine['cores']} cores ({results.machine['cpu']}),"
        f" Python {results.machine['python']}, load {results.machine['load_average_at_start']:.1f}"
        f" at start, {results.seconds:.0f} s in all.",
        "",
        f"Throughput: receiver answers after {RECEIVER_DELAY * 1000:.0f} ms,"
        f" {CONCURRENCY} in flight (ideal {ideal:,.0f}/s). The loop and streamjobs ran in"
        f" {len(results.throughput[0].rounds)} interleaved rounds: their rows show the median"
        " rate, and the median of each round's ratio to that round's loop.",
        "",
        "| contender | delivered | deliveries/s | vs aiohttp loop | of ideal | most in flight"
        " | rows |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in results.throughput:
        rows = {None: "-", True: "all written", False: "MISSING"}[row.rows_ok]
        vs_loop = row.vs_loop if row.vs_loop is not None else row.per_second / base
        lines.append(
            f"| {row.name} | {row.delivered:,} | {row.per_second:,.0f}"
            f" | {vs_loop:.2f} | {row.per_second / ideal:.2f} | {row.peak}"
            f" | {rows} |"
        )
    lines += [""] + [
        f"- rounds of {row.name}: " + ", ".join(f"{rate:,.0f}" for rate in row.rounds) + "/s"
        for row in results.throughput
        if row.rounds
    ]
    lines += [
        "",
        f"Latency at {LATENCY_RATE:.0f} events/s after {WARM_UP} warm-up events;"
        " retry lateness with RETRY_DELAYS=" + RETRY_DELAY,
        "",
        "| measure | p50 | p99 | counted | first (cold) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for entry in results.latency:
        lines.append(
            f"| {entry.name} | {entry.p50_ms:.1f} ms | {entry.p99_ms:.1f} ms | {entry.count:,}"
            f" | {entry.first_ms:.0f} ms |"
        )
    lines += ["", f"| peak RSS at {MEMORY_IN_FLIGHT:,} in flight | MiB |", "| --- | ---: |"]
    lines += [f"| {entry.name} | {entry.peak_mib:.0f} |" for entry in results.memory]
    return "\n".join(lines) + "\n"


def write(results: Results) -> None:
    RESULTS.mkdir(exist_ok=True)
    document = {
        "machine": results.machine,
        "date": results.date,
        "seconds": results.seconds,
        "throughput_baseline": results.throughput[0].name,
        "throughput": [vars(row) for row in results.throughput],
        "latency": [vars(row) for row in results.latency],
        "memory": [vars(row) for row in results.memory],
    }
    (RESULTS / "compare.json").write_text(json.dumps(document, indent=2) + "\n")
    (RESULTS / "compare.md").write_text(markdown(results))


def step(text: str) -> None:
    print(f"== {text}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000, help="per throughput contender")
    parser.add_argument("--naive-events", type=int, default=300)
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved throughput rounds; medians count"
    )
    parser.add_argument("--latency-events", type=int, default=2_000, help="10 s at 200/s")
    parser.add_argument("--retry-events", type=int, default=400)
    args = parser.parse_args()
    configure_logging(level="WARNING", fmt="text")
    started = time.monotonic()
    results = Results(machine(), datetime.now(UTC).isoformat(timespec="seconds"))
    settings = load_settings()
    upgrade(settings)
    engine = sync_engine(settings)
    with redis_server() as redis_url:
        with receiver_process(RECEIVER_DELAY) as receiver:
            # Interleaved rounds: a noisy moment of the host weighs on one round.
            loop: list[Throughput] = []
            streamjobs: dict[int, list[Throughput]] = {1: [], 2: []}
            for number in range(1, args.rounds + 1):
                step(f"throughput, round {number} of {args.rounds}: bare aiohttp loop")
                loop.append(loop_throughput(receiver, args.events))
                for processes, runs in streamjobs.items():
                    step(f"throughput, round {number}: streamjobs, {processes} process(es)")
                    runs.append(streamjobs_throughput(engine, receiver, args.events, processes))
            results.throughput.append(median_of_rounds(loop, loop))
            for runs in streamjobs.values():
                results.throughput.append(median_of_rounds(runs, loop))
            step("throughput: obvious consumer")
            results.throughput.append(naive_throughput(engine, receiver, args.naive_events))
            step("throughput: Celery")
            results.throughput.append(celery_throughput(engine, receiver, redis_url, args.events))
        step("latency: bare hop")
        results.latency.append(bare_hop_latency(args.latency_events))
        step("latency: streamjobs")
        results.latency.append(streamjobs_latency(engine, args.latency_events))
        step("retry lateness")
        results.latency.append(retry_lateness(engine, args.retry_events))
        step("memory: streamjobs")
        results.memory.append(streamjobs_memory(engine, 3 * MEMORY_IN_FLIGHT))
        step("memory: Celery")
        results.memory.append(celery_memory(engine, redis_url, 3 * MEMORY_IN_FLIGHT))
    engine.dispose()
    results.seconds = time.monotonic() - started
    write(results)
    print(markdown(results))


if __name__ == "__main__":
    main()

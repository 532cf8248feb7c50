"""Throughput of the consumer runtime against a bare confluent-kafka loop.

Run with the local services up (``make services``)::

    .venv/bin/python bench/bench_runtime.py [--events 200000] [--slow-events 5000]

In one run, over the same pre-filled topic:

1. baseline: a bare ``Consumer.consume`` loop that only counts messages;
   for context, also a minimal correct loop: it validates each message and
   stores offsets after each batch, but has no concurrency and no retries;
2. the runtime with a no-op handler (decode, validate, hand out, store offsets);
3. the runtime with a handler that awaits 20 ms, at concurrency 100, against
   the ideal 100 / 0.020 s = 5,000 events/s.

Each rate is measured from the first message received to the last, so group
joins do not count. Prints the rates and the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from confluent_kafka import Consumer, Producer

from consumers.job import Context, Handler, Job
from consumers.runtime.runner import Runner
from schemas.events import Event
from schemas.topics import TopicSpec
from streamjobs.kafka import client_config, create_topics, topic_set
from streamjobs.logs import configure_logging
from streamjobs.settings import Settings, load_settings

SLOW_HANDLER_SECONDS = 0.020
"""How long the slow handler awaits."""

SLOW_CONCURRENCY = 100
"""In-flight limit of the slow run."""


class BenchEvent(Event):
    """A small event, like a typical job trigger."""

    id: int
    kind: str


BENCH_TOPIC = TopicSpec(name="bench", job="bench", group="bench", model=BenchEvent)


@dataclass
class Clock:
    """Counts handled events; records the first and the last."""

    target: int
    count: int = 0
    first: float = 0.0
    last: float = 0.0
    done: threading.Event = field(default_factory=threading.Event)

    def tick(self) -> None:
        now = time.perf_counter()
        if self.count == 0:
            self.first = now
        self.count += 1
        self.last = now
        if self.count >= self.target:
            self.done.set()

    @property
    def rate(self) -> float:
        return (self.count - 1) / (self.last - self.first)


def fill(settings: Settings, topic: str, count: int) -> None:
    producer = Producer(client_config(settings) | {"linger.ms": 20, "batch.size": 1_000_000})
    for n in range(count):
        value = json.dumps({"id": n, "kind": "invoice.paid"}).encode()
        while True:
            try:
                producer.produce(topic, value)
                break
            except BufferError:
                producer.poll(0.1)
    producer.flush(60)


def bare_loop(settings: Settings, topic: str, count: int, *, validate: bool = False) -> float:
    """Events/s of a plain consume loop; with ``validate``, the least a correct consumer does."""
    consumer = Consumer(
        client_config(settings)
        | {
            "group.id": f"bench-bare-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.offset.store": not validate,
        }
    )
    consumer.subscribe([topic])
    clock = Clock(count)
    try:
        while clock.count < count:
            batch = consumer.consume(500, 1.0)
            for message in batch:
                if message.error() is None:
                    if validate:
                        BenchEvent.model_validate_json(message.value() or b"")
                    clock.tick()
            if validate and batch:
                consumer.store_offsets(message=batch[-1])
    finally:
        consumer.close()
    return clock.rate


def bench_job(clock: Clock, *, sleep: float) -> Job[BenchEvent]:
    """A job on the bench topic, in a consumer group of its own."""

    async def handle(event: BenchEvent, context: Context) -> None:
        if sleep:
            await asyncio.sleep(sleep)
        clock.tick()

    @contextlib.asynccontextmanager
    async def open_handler(
        _settings: Settings, /, *, concurrency: int
    ) -> AsyncIterator[Handler[BenchEvent]]:
        yield handle

    group = f"bench-{uuid.uuid4().hex[:8]}"
    spec = TopicSpec(name=BENCH_TOPIC.name, job="bench", group=group, model=BenchEvent)
    return Job(topic=spec, open=open_handler, concurrency=1)


def through_runtime(settings: Settings, count: int, *, sleep: float, concurrency: int) -> float:
    """Events/s of ``count`` events through the runtime."""
    clock = Clock(count)
    runner = Runner([bench_job(clock, sleep=sleep)], settings, concurrency=concurrency)
    thread = threading.Thread(target=runner.run)
    thread.start()
    clock.done.wait()
    runner.stop()
    thread.join()
    return clock.rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--slow-events", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the median counts")
    args = parser.parse_args()
    configure_logging(level="WARNING", fmt="text")
    settings = load_settings(
        kafka_topic_prefix=f"bench-{uuid.uuid4().hex[:8]}.", retry_delays=(1.0,)
    )
    topics = topic_set(settings, BENCH_TOPIC)
    create_topics(settings, [topics])
    fill(settings, topics.main, max(args.events, args.slow_events))

    # Interleaved repetitions, so that a noisy moment does not favour one contender.
    runs: dict[str, list[float]] = {"bare": [], "minimal": [], "noop": [], "slow": []}
    for _ in range(args.repeat):
        runs["bare"].append(bare_loop(settings, topics.main, args.events))
        runs["minimal"].append(bare_loop(settings, topics.main, args.events, validate=True))
        runs["noop"].append(
            through_runtime(settings, args.events, sleep=0.0, concurrency=SLOW_CONCURRENCY)
        )
        runs["slow"].append(
            through_runtime(
                settings, args.slow_events, sleep=SLOW_HANDLER_SECONDS, concurrency=SLOW_CONCURRENCY
            )
        )
    bare, minimal, noop, slow = (statistics.median(runs[name]) for name in runs)
    ideal = SLOW_CONCURRENCY / SLOW_HANDLER_SECONDS
    print(
        f"events: {args.events:,} (no-op), {args.slow_events:,} (20 ms handler);"
        f" median of {args.repeat} interleaved runs"
    )
    print(f"bare confluent-kafka consume loop   {bare:10,.0f} events/s")
    print(f"minimal loop: validate, store       {minimal:10,.0f} events/s")
    print(
        f"runtime, no-op handler              {noop:10,.0f} events/s   ratio {noop / bare:.2f}"
        f" (target >= 0.5); {noop / minimal:.2f} of the minimal loop"
    )
    print(
        f"runtime, 20 ms handler, conc. 100   {slow:10,.0f} events/s   ratio {slow / ideal:.2f}"
        f" of ideal {ideal:,.0f} (target >= 0.8)"
    )


if __name__ == "__main__":
    main()

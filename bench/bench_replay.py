"""Memory and rate of ``streamjobs dlq replay``: a small DLQ against one ten times larger.

Run with the local services up (``make services``)::

    .venv/bin/python bench/bench_replay.py [--letters 100000] [--bytes 300]

In one run, under a fresh topic prefix:

1. baseline: replay ``letters / 10`` dead letters;
2. replay ``letters`` dead letters.

Each replay is a ``streamjobs dlq replay webhook.send`` process of its own;
its peak resident memory comes from ``wait4``. Bounded memory means the ratio
of the two peaks stays near 1 while the DLQ grows tenfold. Prints the peaks,
the rates and the ratios.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Producer

from schemas.topics import WEBHOOK_SEND
from streamjobs.kafka import client_config, create_topics, topic_set
from streamjobs.settings import Settings, load_settings

STREAMJOBS = str(Path(sys.executable).with_name("streamjobs"))
"""The installed console script."""

BASELINE_SHARE = 10
"""The baseline DLQ is this many times smaller."""


@dataclass(frozen=True)
class Run:
    """One replay: how many letters, its peak RSS in MiB, its wall time in seconds."""

    letters: int
    peak_mib: float
    seconds: float


def fill(settings: Settings, topic: str, *, letters: int, size: int) -> None:
    """Write ``letters`` dead letters of ``size`` bytes to ``topic``."""
    producer = Producer(client_config(settings) | {"linger.ms": 20})
    value = b"{" + b" " * (size - 2) + b"}"
    for n in range(letters):
        while True:
            try:
                producer.produce(topic, value, headers=[("event-id", f"evt-{n}".encode())])
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    assert producer.flush(60) == 0


def replay(settings: Settings, *, letters: int, size: int) -> Run:
    """Fill a fresh DLQ with ``letters`` and replay it in a child process."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    scoped = load_settings(
        kafka_bootstrap_servers=settings.kafka_bootstrap_servers, kafka_topic_prefix=prefix
    )
    topics = topic_set(scoped, WEBHOOK_SEND)
    create_topics(scoped, [topics])
    fill(scoped, topics.dlq, letters=letters, size=size)
    environment = os.environ | {
        "KAFKA_BOOTSTRAP_SERVERS": scoped.kafka_bootstrap_servers,
        "KAFKA_TOPIC_PREFIX": prefix,
        "LOG_FORMAT": "text",
    }
    started = time.monotonic()
    child = subprocess.Popen(
        [STREAMJOBS, "dlq", "replay", "webhook.send"], env=environment, stdout=subprocess.PIPE
    )
    assert child.stdout is not None
    summary = child.stdout.read().decode().strip()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.monotonic() - started
    assert status == 0 and summary.startswith(f"moved {letters} "), summary
    return Run(letters=letters, peak_mib=usage.ru_maxrss / 1024, seconds=seconds)


def main() -> None:
    """Run the baseline and the large replay; print both and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=100_000)
    parser.add_argument("--bytes", type=int, default=300)
    args = parser.parse_args()
    settings = load_settings()
    small = replay(settings, letters=args.letters // BASELINE_SHARE, size=args.bytes)
    large = replay(settings, letters=args.letters, size=args.bytes)
    for run in (small, large):
        rate = run.letters / run.seconds
        print(f"{run.letters:>8} letters: peak RSS {run.peak_mib:6.1f} MiB, {rate:8.0f} letters/s")
    print(f"peak RSS ratio (x{BASELINE_SHARE} letters): {large.peak_mib / small.peak_mib:.2f}")
    rate_ratio = (large.letters / large.seconds) / (small.letters / small.seconds)
    print(f"rate ratio: {rate_ratio:.2f}")


if __name__ == "__main__":
    main()

"""Work redone after SIGKILL at full speed, against the in-flight limit.

Run with the local services up (``make services``)::

    .venv/bin/python bench/bench_crash.py [--events 20000] [--kills 3] [--concurrency 100]

The probe job of the runtime tests (``tests/consumers/runtime/probe.py``)
runs in a subprocess over a pre-filled topic of 6 partitions, each handler
awaiting 20 ms. The script SIGKILLs it ``--kills`` times at random moments
while it runs at full speed, restarts it each time, and lets the last one
finish. A handled event is one the probe logged ``done``; every ``done``
beyond the first of an event is a duplicate: work finished before a kill and
redone after it. Prints the rate, the duplicates per kill, and their ratio
to the in-flight limit (the baseline: the goal is at most 1.0).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from confluent_kafka import Producer

from streamjobs.kafka import client_config, create_topics, topic_set
from streamjobs.settings import load_settings

HANDLER_SECONDS = 0.020
"""How long each probe handler awaits."""

PARTITIONS = 6
"""Partitions of the probe's topics."""

ROOT = Path(__file__).parents[1]
"""The checkout, where ``python -m tests...`` finds the probe."""


def main() -> int:
    """Run the kills and print the figures; 1 if an event was lost."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=100)
    args = parser.parse_args()
    prefix = f"benchcrash-{uuid.uuid4().hex[:8]}."
    settings = load_settings(kafka_topic_prefix=prefix, kafka_topic_partitions=PARTITIONS)
    sys.path.insert(0, str(ROOT))  # run as a script, like every bench: the probe lives in tests/
    from tests.consumers.runtime.probe import PROBE_TOPIC

    topics = topic_set(settings, PROBE_TOPIC)
    create_topics(settings, [topics])
    producer = Producer(client_config(settings) | {"linger.ms": 20})
    for n in range(args.events):
        producer.produce(
            topics.main,
            json.dumps({"id": n, "sleep": HANDLER_SECONDS}).encode(),
            None,
            n % PARTITIONS,
        )
    producer.flush(60)

    log = Path(tempfile.mkdtemp()) / "probe.log"
    env = os.environ | {
        "KAFKA_TOPIC_PREFIX": prefix,
        "CONSUMER_CONCURRENCY": str(args.concurrency),
        "KAFKA_GROUP_INSTANCE_ID": "bench-crash",
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "WARNING",
    }

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.consumers.runtime.probe", str(log)],
            cwd=ROOT,
            env=env,
            stderr=subprocess.DEVNULL,
        )

    def done() -> list[int]:
        lines = log.read_text().splitlines() if log.exists() else []
        return [
            int(line.split()[1])
            for line in lines
            if line.startswith("done ") and len(line.split()) == 2
        ]

    started = time.monotonic()
    probe = start()
    for kill in range(args.kills):
        target = args.events * (kill + 1) // (args.kills + 2)
        while len(done()) < target:
            time.sleep(0.05)
        time.sleep(random.uniform(0.0, 0.5))
        probe.send_signal(signal.SIGKILL)
        probe.wait()
        probe = start()
    while len(set(done())) < args.events and time.monotonic() - started < 600:
        time.sleep(0.2)
    elapsed = time.monotonic() - started
    probe.send_signal(signal.SIGTERM)
    probe.wait(60)

    handled = Counter(done())
    lost = args.events - len(handled)
    duplicates = sum(handled.values()) - len(handled)
    per_kill = duplicates / args.kills
    print(f"events {args.events}, kills {args.kills}, in-flight limit {args.concurrency}")
    print(f"rate (with restarts)   {args.events / elapsed:8.0f} events/s")
    print(f"lost                   {lost:8d}")
    print(f"duplicates             {duplicates:8d}")
    print(f"duplicates per kill    {per_kill:8.1f}")
    print(f"ratio to the limit     {per_kill / args.concurrency:8.2f}  (goal: at most 1.00)")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())

"""Soak with faults: 10,000 webhook events and 2,000 emails through consumers that are killed,
a broker and a database that restart, and a receiver that fails one request in ten.

Run it (``make soak``) with nothing else to set up::

    .venv/bin/python bench/soak.py [--events 10000] [--emails 1000]

It starts a private Kafka and PostgreSQL with ``dev/services.sh up`` on ports of
their own (``SOAK_KAFKA_PORT``, ``SOAK_PG_PORT``; never the shared 9092/54329)
and stops them at the end, whatever happens. A receiver (``bench/receiver.py``
in a process of its own) answers 503 to 10% of the requests (drawn per request
from a fixed seed) and 200 to the rest, and logs each answer by ``webhook-id``.
Events are produced at a steady pace over ``PRODUCE_SECONDS`` while
``CONSUMERS`` ``streamjobs consume webhook`` processes (``RETRY_DELAYS=1s,2s``)
deliver them and the fault script runs ``FAULTS``: three SIGKILLs of a
consumer (restarted at once), one broker restart, one PostgreSQL restart.
Production starts once every consumer has its partitions, so the first kill
hits a consumer at work.
Alongside, ``--emails`` ``email.send`` events and a tenth as many
``email.send-batch`` events of ``BATCH_EMAILS`` emails go through ``streamjobs
consume email`` and ``email-batch`` to the fake Resend of the tests
(``bench/fake_resend.py``, a process of its own); both email consumers are
SIGKILLed with each webhook consumer. Every email has a subject of its own.

Checks, printed with their figures; the exit status is 1 when one fails:

- lost: every event ends delivered (a 200 for its id) or in the DLQ;
- duplicates: 200s beyond the first per id, at most the in-flight limit per kill;
- delivery rows: per event id, every request the receiver answered is counted by
  a ``webhook_deliveries`` row (the ``sends`` of its attempt's row: a POST a kill cut
  short is redone on the same row), no row is left ``pending``, and the event has a
  successful row exactly when the receiver answered it 200;
- DLQ: only events whose three attempts the receiver all answered 503;
- email: every email accepted by the fake Resend exactly once (none lost, none twice);
- no consumer exited on its own (a broker or database outage is survived).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.request import urlopen

from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from sqlalchemy import func, select

from consumers.webhook.outcomes import PENDING
from consumers.webhook.registry import add_endpoint
from schemas.headers import EVENT_ID
from schemas.tables import webhook_deliveries
from schemas.topics import EMAIL_SEND, EMAIL_SEND_BATCH, WEBHOOK_SEND
from streamjobs.database import sync_engine, upgrade
from streamjobs.kafka import client_config, create_topics, topic_set
from streamjobs.logs import configure_logging
from streamjobs.settings import Settings, load_settings
from tests.consumers.email.fake_resend import API_KEY as RESEND_API_KEY

ROOT = Path(__file__).resolve().parent.parent
"""The checkout: ``dev/`` scripts and ``.venv`` live here."""

KAFKA_PORT = int(os.environ.get("SOAK_KAFKA_PORT", "19192"))
"""The private broker's port (its controller takes the next one)."""

PG_PORT = int(os.environ.get("SOAK_PG_PORT", "55439"))
"""The private PostgreSQL's port."""

CONSUMERS = 2
"""``streamjobs consume webhook`` processes."""

ASSIGNED = "partitions assigned"
"""What a consumer logs once the group gave it partitions."""

STARTUP_TIMEOUT = 60.0
"""Seconds the consumers have to join their groups before production starts."""

EMAIL_JOBS = ("email", "email-batch")
"""``streamjobs consume`` processes of the email jobs, one each; killed with every webhook kill."""

BATCH_EMAILS = 10
"""Emails per ``email.send-batch`` event."""

RESEND_DELAY = 0.005
"""Seconds the fake Resend takes per request."""

CONCURRENCY = 100
"""In-flight limit of each consumer process: the duplicate bound per kill."""

FAIL_RATE = 0.10
"""Share of requests the receiver answers 503."""

SEED = 8
"""Seed of the receiver's 503 draws."""

RECEIVER_DELAY = 0.005
"""Seconds the receiver waits before each answer."""

PRODUCE_SECONDS = 75.0
"""Events are produced evenly over this long, so the faults hit a moving stream."""

FAULTS: tuple[tuple[float, str], ...] = (
    (10.0, "kill"),
    (25.0, "broker"),
    (40.0, "kill"),
    (55.0, "postgres"),
    (70.0, "kill"),
)
"""Seconds after the start of production, and the fault injected then."""

DEADLINE = 420.0
"""Give up waiting for the events to settle after this many seconds of the run."""

SETTLE_SECONDS = 20.0
"""After the last event settled, wait at most this long for the delivery rows to catch up."""


# -- processes -------------------------------------------------------------------------


def service_env() -> dict[str, str]:
    """The environment of ``dev/`` scripts pointed at the private ports.

    ``DATABASE_URL`` and ``KAFKA_BOOTSTRAP_SERVERS`` of the caller are left out:
    ``dev/postgres.sh`` would use a server that answers there instead of starting its own.
    """
    inherited = {k: v for k, v in os.environ.items() if k not in CALLER_SERVICES}
    return inherited | {
        "STREAMJOBS_KAFKA_PORT": str(KAFKA_PORT),
        "STREAMJOBS_PG_PORT": str(PG_PORT),
    }


CALLER_SERVICES = frozenset({"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"})
"""Variables of the caller's environment that would point the soak at shared services."""


def dev(script: str, action: str) -> None:
    """Run ``dev/<script> <action>`` against the private services; raise if it fails."""
    subprocess.run([str(ROOT / "dev" / script), action], env=service_env(), check=True)


@contextmanager
def private_services() -> Iterator[None]:
    """Kafka and PostgreSQL on the private ports, stopped on the way out."""
    try:
        dev("services.sh", "up")
        yield
    finally:
        dev("services.sh", "down")


class Server:
    """A ``bench/`` server script in a subprocess; ``ports`` are those its ``PORT`` line names.

    Args:
        script: the file under ``bench/``.
        options: its command-line options.
    """

    def __init__(self, script: str, *options: str) -> None:
        command = [sys.executable, str(ROOT / "bench" / script), *options]
        self._process = subprocess.Popen(
            command, stdout=subprocess.PIPE, text=True, env=os.environ | {"PYTHONPATH": str(ROOT)}
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"{script} did not start: {line!r}")
        self.ports = [int(port) for port in line.split()[1:]]

    def get(self, port: int, path: str) -> Any:
        """The JSON that ``GET path`` on ``port`` answers."""
        with urlopen(f"http://127.0.0.1:{port}{path}") as response:
            return json.loads(response.read())

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait()


class Receiver(Server):
    """``bench/receiver.py`` failing ``FAIL_RATE`` of the requests."""

    def __init__(self) -> None:
        super().__init__(
            "receiver.py", f"--delay={RECEIVER_DELAY}", f"--fail-rate={FAIL_RATE}", f"--seed={SEED}"
        )
        self.url = f"http://127.0.0.1:{self.ports[0]}"

    def log(self) -> dict[str, list[int]]:
        """Statuses answered so far, by ``webhook-id``."""
        answers: dict[str, list[int]] = self.get(self.ports[0], "/log")
        return answers


class Resend(Server):
    """``bench/fake_resend.py``: the tests' fake Resend API."""

    def __init__(self) -> None:
        super().__init__("fake_resend.py", f"--delay={RESEND_DELAY}")
        self.url = f"http://127.0.0.1:{self.ports[0]}"

    def sent(self) -> Counter[str]:
        """Emails accepted so far, by subject."""
        return Counter(self.get(self.ports[1], "/sent"))


class Consumers:
    """``CONSUMERS`` webhook consumers and one per ``EMAIL_JOBS``; logs under ``log_dir``."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self._env = env
        self._log_dir = log_dir
        self._started = 0
        self.unexpected_exits: list[int] = []
        self._jobs = ["webhook"] * CONSUMERS + list(EMAIL_JOBS)
        self._logs: list[Path] = []
        self._processes = [self._start(job) for job in self._jobs]

    def _start(self, job: str) -> subprocess.Popen[bytes]:
        self._started += 1
        self._logs.append(self._log_dir / f"consumer-{self._started}-{job}.log")
        log = self._logs[-1].open("wb")
        command = [str(ROOT / ".venv" / "bin" / "streamjobs"), "consume", job]
        if job == "webhook":
            command.append(f"--concurrency={CONCURRENCY}")
        return subprocess.Popen(command, env=self._env, stdout=log, stderr=subprocess.STDOUT)

    def wait_assigned(self, timeout: float) -> None:
        """Return once every first consumer got its partitions, so the faults hit working ones.

        Raises:
            RuntimeError: one has none after ``timeout`` seconds.
        """
        until = time.monotonic() + timeout
        while not all(ASSIGNED in log.read_text() for log in self._logs[: len(self._jobs)]):
            if time.monotonic() > until:
                raise RuntimeError(
                    f"consumers not assigned after {timeout:.0f}s; see {self._log_dir}"
                )
            time.sleep(0.5)

    def kill_one(self, number: int) -> None:
        """SIGKILL webhook consumer ``number % CONSUMERS`` and the email consumers; restart them."""
        for index in [number % CONSUMERS, *range(CONSUMERS, len(self._jobs))]:
            self._processes[index].send_signal(signal.SIGKILL)
            self._processes[index].wait()
            self._processes[index] = self._start(self._jobs[index])

    def restart_exited(self) -> None:
        """A consumer that ended on its own is a failure; note it and start another."""
        for index, process in enumerate(self._processes):
            if (status := process.poll()) is not None:
                self.unexpected_exits.append(status)
                self._processes[index] = self._start(self._jobs[index])

    def stop(self) -> None:
        """SIGTERM: each one drains its in-flight work and writes its rows."""
        for process in self._processes:
            process.terminate()
        for process in self._processes:
            process.wait(timeout=60)


# -- traffic -------------------------------------------------------------------------


def event_ids(settings: Settings, count: int) -> list[str]:
    return [f"{settings.kafka_topic_prefix}{n:06d}" for n in range(count)]


Outgoing = tuple[str, str, dict[str, Any]]
"""A message to produce: topic, event id, value."""


def webhook_traffic(topic: str, webhook_id: uuid.UUID, ids: list[str]) -> list[Outgoing]:
    return [
        (
            topic,
            event_id,
            {"webhook_id": str(webhook_id), "event_type": "soak.tick", "payload": {"n": n}},
        )
        for n, event_id in enumerate(ids)
    ]


def email(subject: str, n: int) -> dict[str, Any]:
    return {"to": [f"user{n}@example.com"], "subject": subject, "text": "soak"}


def email_traffic(settings: Settings, count: int) -> tuple[list[Outgoing], list[str]]:
    """``count`` ``email.send`` events and ``count // 10`` batches; and every subject sent."""
    prefix = settings.kafka_topic_prefix
    single, batch = (topic_set(settings, spec).main for spec in (EMAIL_SEND, EMAIL_SEND_BATCH))
    singles = [(single, f"{prefix}email-{n}", email(f"{prefix}email {n}", n)) for n in range(count)]
    batches = [
        (
            batch,
            f"{prefix}batch-{n}",
            {"emails": [email(f"{prefix}batch {n}.{k}", k) for k in range(BATCH_EMAILS)]},
        )
        for n in range(count // 10)
    ]
    subjects = [str(value["subject"]) for _, _, value in singles]
    subjects += [str(e["subject"]) for _, _, value in batches for e in value["emails"]]
    return singles + batches, subjects


def interleaved(*streams: list[Outgoing]) -> list[Outgoing]:
    """The messages of ``streams`` merged so that each is spread evenly over the run."""
    timed = [
        (n / len(stream), index, message)
        for index, stream in enumerate(streams)
        for n, message in enumerate(stream)
    ]
    return [message for *_, message in sorted(timed, key=lambda item: item[:2])]


def produce_paced(settings: Settings, messages: list[Outgoing]) -> int:
    """Produce ``messages`` evenly over ``PRODUCE_SECONDS``; return the failed deliveries."""
    failures: list[str] = []

    def delivered(error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            failures.append(str(error))

    producer = Producer(client_config(settings) | {"linger.ms": 20})
    started = time.monotonic()
    for n, (topic, event_id, value) in enumerate(messages):
        while True:
            try:
                producer.produce(
                    topic,
                    json.dumps(value).encode(),
                    headers=[(EVENT_ID, event_id)],
                    on_delivery=delivered,
                )
                break
            except BufferError:
                producer.poll(0.1)
        delay = started + PRODUCE_SECONDS * (n + 1) / len(messages) - time.monotonic()
        producer.poll(max(delay, 0.0))
    producer.flush(120)
    return len(failures)


class DeadLetters:
    """Event ids in the DLQ topic, read from its start as they arrive."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self._consumer = Consumer(
            client_config(settings)
            | {"group.id": f"soak-dlq-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False}
        )
        partitions = range(settings.kafka_topic_partitions)
        self._consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        self.ids: Counter[str] = Counter()

    def read(self) -> None:
        """Take what arrived since the last call."""
        for message in self._consumer.consume(num_messages=1000, timeout=0.5):
            if message.error() is None:
                raw = dict(message.headers() or []).get(EVENT_ID)
                self.ids[raw.decode() if isinstance(raw, bytes) else str(raw)] += 1

    def close(self) -> None:
        self._consumer.close()


# -- the run -------------------------------------------------------------------------


@dataclass
class Observed:
    """What the run saw, for the checks."""

    events: int
    answers: dict[str, list[int]]
    dead: Counter[str]
    rows: dict[str, Rows]
    emails: list[str]
    sent: Counter[str]
    kills: int
    unexpected_exits: list[int]
    produce_failures: int
    seconds: float
    faults: list[str] = field(default_factory=list)


def run_faults(consumers: Consumers, started: float, done: list[str]) -> None:
    """Inject ``FAULTS`` at their times; record each in ``done`` as it ends."""
    kills = 0
    for at, fault in FAULTS:
        time.sleep(max(at - (time.monotonic() - started), 0.0))
        began = time.monotonic()
        if fault == "kill":
            consumers.kill_one(kills)
            kills += 1
        else:
            script = "kafka.sh" if fault == "broker" else "postgres.sh"
            dev(script, "down")
            dev(script, "up")
        done.append(f"{fault} at {at:.0f}s ({time.monotonic() - began:.1f}s)")


def settled(ids: list[str], answers: dict[str, list[int]], dead: Counter[str]) -> int:
    """Events delivered (a 200) or dead-lettered."""
    return sum(1 for i in ids if 200 in answers.get(i, ()) or i in dead)


@dataclass(frozen=True)
class Rows:
    """One event's ``webhook_deliveries`` rows, summed."""

    sends: int
    """POSTs begun, over all its attempts."""
    successes: int
    pending: int


NO_ROWS = Rows(0, 0, 0)
"""What an event without any row has."""


def delivery_rows(settings: Settings) -> dict[str, Rows]:
    """Per event id of this run: its rows' sends, successful rows and pending rows."""
    column = webhook_deliveries.c
    query = (
        select(
            column.event_id,
            func.sum(column.sends),
            func.count().filter(column.outcome == "success"),
            func.count().filter(column.outcome == PENDING),
        )
        .where(column.event_id.startswith(settings.kafka_topic_prefix, autoescape=True))
        .group_by(column.event_id)
    )
    engine = sync_engine(settings)
    try:
        with engine.connect() as connection:
            return {row[0]: Rows(*map(int, row[1:])) for row in connection.execute(query)}
    finally:
        engine.dispose()


def wait_for_rows(settings: Settings, answers: dict[str, list[int]]) -> dict[str, Rows]:
    """Delivery rows, once they account for the answers or ``SETTLE_SECONDS`` passed."""
    expected = sum(len(statuses) for statuses in answers.values())
    until = time.monotonic() + SETTLE_SECONDS
    while True:
        rows = delivery_rows(settings)
        done = sum(r.sends for r in rows.values()) >= expected
        if (done and not any(r.pending for r in rows.values())) or time.monotonic() > until:
            return rows
        time.sleep(1.0)


def soak(events: int, emails: int, log_dir: Path) -> Observed:
    prefix = f"soak-{uuid.uuid4().hex[:8]}."
    env = service_env() | {
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{KAFKA_PORT}",
        "DATABASE_URL": f"postgresql+psycopg://streamjobs:streamjobs@127.0.0.1:{PG_PORT}/streamjobs",
        "KAFKA_TOPIC_PREFIX": prefix,
        "RETRY_DELAYS": "1s,2s",
        # The broker's minimum: a killed member leaves the group in seconds, not 45.
        "KAFKA_SESSION_TIMEOUT": "6s",
        "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
        "LOG_FORMAT": "text",
    }
    settings = load_settings(
        kafka_bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"],
        database_url=env["DATABASE_URL"],
        kafka_topic_prefix=prefix,
        retry_delays="1s,2s",
    )
    upgrade(settings)
    topics = topic_set(settings, WEBHOOK_SEND)
    create_topics(settings, [topics])
    create_topics(settings, [topic_set(settings, spec) for spec in (EMAIL_SEND, EMAIL_SEND_BATCH)])
    ids = event_ids(settings, events)
    receiver, resend = Receiver(), Resend()
    env |= {
        "RESEND_API_URL": resend.url,
        "RESEND_API_KEY": RESEND_API_KEY,
        "RESEND_RATE_LIMIT": "1000",
        "EMAIL_FROM": "soak@example.com",
    }
    try:
        endpoint = add_endpoint(sync_engine(settings), f"{receiver.url}/hook", description="soak")
        mails, subjects = email_traffic(settings, emails)
        traffic = interleaved(webhook_traffic(topics.main, endpoint.id, ids), mails)
        consumers = Consumers(env, log_dir)
        try:
            consumers.wait_assigned(STARTUP_TIMEOUT)
            return drive(
                settings, topics.dlq, traffic, Expected(ids, subjects), receiver, resend, consumers
            )
        finally:
            consumers.stop()
    finally:
        receiver.stop()
        resend.stop()


@dataclass(frozen=True)
class Expected:
    """What must arrive: webhook event ids, and email subjects."""

    ids: list[str]
    subjects: list[str]


def drive(
    settings: Settings,
    dlq: str,
    traffic: list[Outgoing],
    expected: Expected,
    receiver: Receiver,
    resend: Resend,
    consumers: Consumers,
) -> Observed:
    """Produce, inject the faults, and wait until everything settled or ``DEADLINE``."""
    started = time.monotonic()
    failures: list[int] = []
    faults: list[str] = []
    ids = expected.ids
    producer = threading.Thread(target=lambda: failures.append(produce_paced(settings, traffic)))
    injector = threading.Thread(target=run_faults, args=(consumers, started, faults))
    producer.start()
    injector.start()
    dead = DeadLetters(settings, dlq)
    try:
        while time.monotonic() - started < DEADLINE:
            dead.read()
            consumers.restart_exited()
            answers = receiver.log()
            count = settled(ids, answers, dead.ids)
            mailed = len(resend.sent().keys() & set(expected.subjects))
            print(
                f"  {time.monotonic() - started:5.0f}s settled {count:,}/{len(ids):,},"
                f" emails {mailed:,}/{len(expected.subjects):,}",
                flush=True,
            )
            if count == len(ids) and mailed == len(expected.subjects) and not injector.is_alive():
                break
            time.sleep(2.0)
        producer.join()
        injector.join()
    finally:
        dead.close()
    consumers.stop()
    answers = receiver.log()
    return Observed(
        events=len(ids),
        answers=answers,
        dead=dead.ids,
        rows=wait_for_rows(settings, answers),
        emails=expected.subjects,
        sent=resend.sent(),
        kills=sum(1 for _, fault in FAULTS if fault == "kill"),
        unexpected_exits=consumers.unexpected_exits,
        produce_failures=failures[0] if failures else -1,
        seconds=time.monotonic() - started,
        faults=faults,
    )


# -- checks --------------------------------------------------------------------------


def mismatched_rows(seen: Observed) -> list[str]:
    """Ids whose rows do not account for the receiver's answers.

    Each answer must be counted by a row's ``sends``, no row may be left
    ``pending``, and the event has a successful row exactly when it got a 200.
    """
    return [
        i
        for i, statuses in seen.answers.items()
        if (rows := seen.rows.get(i, NO_ROWS)).sends < len(statuses)
        or rows.pending
        or (rows.successes > 0) != (200 in statuses)
    ]


def wrong_dead_letters(seen: Observed) -> list[str]:
    """Dead-lettered ids the receiver answered 200, or fewer than three times."""
    return [
        i for i in seen.dead if 200 in seen.answers.get(i, ()) or len(seen.answers.get(i, ())) < 3
    ]


def details(seen: Observed) -> dict[str, dict[str, object]]:
    """What the receiver and the delivery log hold for every id a check is about."""
    ids = set(mismatched_rows(seen)) | set(wrong_dead_letters(seen))
    return {
        i: {
            "answers": seen.answers.get(i, []),
            "rows": dataclasses.asdict(seen.rows.get(i, NO_ROWS)),
            "dlq": seen.dead.get(i),
        }
        for i in sorted(ids)
    }


def checks(seen: Observed) -> list[tuple[str, bool]]:
    """Each figure with whether it passes."""
    ids = [i for i in seen.answers if i]
    ok_count = {i: seen.answers[i].count(200) for i in ids}
    delivered = sum(1 for i in ids if ok_count[i] > 0)
    lost = seen.events - sum(
        1 for i in set(ids) | set(seen.dead) if ok_count.get(i) or i in seen.dead
    )
    duplicates = sum(max(n - 1, 0) for n in ok_count.values())
    bound = seen.kills * CONCURRENCY
    attempts = sum(len(statuses) for statuses in seen.answers.values())
    rows = seen.rows.values()
    sends, pending = sum(r.sends for r in rows), sum(r.pending for r in rows)
    off = mismatched_rows(seen)
    missing = sum(max(len(seen.answers[i]) - seen.rows.get(i, NO_ROWS).sends, 0) for i in off)
    mails = Counter({subject: seen.sent[subject] for subject in seen.emails})
    mails_lost = sum(1 for n in mails.values() if n == 0)
    mails_twice = sum(1 for n in mails.values() if n > 1)
    wrong_dead = wrong_dead_letters(seen)
    failed_thrice = sum(1 for i in ids if not ok_count[i] and len(seen.answers[i]) >= 3)
    return [
        (
            f"events produced: {seen.events:,}"
            f" (failed deliveries to the broker: {seen.produce_failures})",
            seen.produce_failures == 0,
        ),
        (f"faults: {'; '.join(seen.faults)}", len(seen.faults) == len(FAULTS)),
        (f"delivered (distinct ids with a 200): {delivered:,}", True),
        (
            f"dead-lettered: {len(seen.dead):,} ids ({sum(seen.dead.values()):,} messages);"
            f" ids whose attempts all got 503: {failed_thrice:,}",
            failed_thrice == len(seen.dead),
        ),
        (f"lost: {lost:,}", lost == 0),
        (
            f"duplicates (200s beyond the first per id): {duplicates:,}"
            f" (bound {bound:,}: {CONCURRENCY} in flight x {seen.kills} kills)",
            duplicates <= bound,
        ),
        (
            f"requests answered: {attempts:,}; delivery rows of {len(rows):,} events:"
            f" {sends:,} sends ({sends - attempts:,} not answered: cut short by a kill);"
            f" rows left pending: {pending:,}; ids whose rows do not account for their answers:"
            f" {len(off):,} ({missing:,} answers without a row)",
            not off,
        ),
        (f"DLQ entries without three failed attempts: {len(wrong_dead):,}", not wrong_dead),
        (
            f"emails: {len(mails):,}; accepted by the fake Resend exactly once:"
            f" {len(mails) - mails_lost - mails_twice:,}; lost: {mails_lost:,};"
            f" twice: {mails_twice:,}",
            mails_lost == 0 and mails_twice == 0,
        ),
        (
            f"consumers that exited on their own: {len(seen.unexpected_exits)}",
            not seen.unexpected_exits,
        ),
        (f"wall time: {seen.seconds:.0f}s", seen.seconds < DEADLINE),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--emails", type=int, default=1_000, help="email.send events")
    args = parser.parse_args()
    # The soak's own clients would log every refused connection of the broker restart.
    configure_logging(level="CRITICAL", fmt="text")
    log_dir = Path(tempfile.mkdtemp(prefix="soak-"))
    with private_services():
        seen = soak(args.events, args.emails, log_dir)
    results = checks(seen)
    (log_dir / "details.json").write_text(json.dumps(details(seen), indent=1))
    print(
        f"\nsoak: {args.events:,} webhook events, {FAIL_RATE:.0%} answered 503,"
        f" {CONSUMERS} consumers x {CONCURRENCY} in flight; {len(seen.emails):,} emails through"
        f" {' and '.join(EMAIL_JOBS)}; consumer logs in {log_dir}"
    )
    for line, passed in results:
        print(f"  [{'ok' if passed else 'FAIL'}] {line}")
    sys.exit(0 if all(passed for _, passed in results) else 1)


if __name__ == "__main__":
    main()

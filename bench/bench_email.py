"""Email batch throughput against a rate-limited fake Resend: achieved over allowed requests/s.

Run with the local services up (``make services``)::

    .venv/bin/python -m bench.bench_email [--events 1000] [--rate 50] [--bare 250]

(from the repository root, as a module or with ``PYTHONPATH=.`` as ``make bench``
does: it reuses the tests' fake Resend).

The fake Resend (``tests/consumers/email/fake_resend.py``, a real HTTP
server in a thread) accepts ``--rate`` requests per sliding second and
answers the rest 429 ``rate_limit_exceeded``. In one run:

(a) streamjobs: ``--events`` ``email.send-batch`` events of 10 emails
    (one request each, ``EMAIL_BATCH_SIZE`` 10) consumed by the batch job
    with ``RESEND_RATE_LIMIT=--rate``, through Kafka and ``email_deliveries``;
(b) the baseline: ``--bare`` batch requests through the SDK and the same
    limiter alone (no Kafka, no database), from as many senders as the job
    has handlers.

Rates are requests/s as the fake saw them, from the first arrival to one
second after the last (the windows the requests occupy). The
target is (a)/allowed >= 0.95 with no 429. The database is ``DATABASE_URL``;
rows are keyed by event ids under a fresh topic prefix, nothing is deleted.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import resend

from consumers.email.batch import JOB
from consumers.email.sender import shared_sender
from consumers.runtime.runner import Runner
from producers import Publisher
from streamjobs.database import upgrade
from streamjobs.kafka import create_topics, topic_set
from streamjobs.logs import configure_logging
from streamjobs.settings import Settings, load_settings
from tests.consumers.email.fake_resend import API_KEY, FakeResend, serving
from tests.kafka_support import running, wait_until

EMAILS_PER_EVENT = 10
"""Emails per batch event: one chunk, one request."""


def batch(event: int) -> dict[str, object]:
    """Batch event ``event``: ten small emails."""
    return {
        "emails": [
            {"to": f"u{event}-{n}@example.com", "subject": f"{event}/{n}", "text": "hi"}
            for n in range(EMAILS_PER_EVENT)
        ]
    }


def observed_rate(fake: FakeResend) -> float:
    """Requests per second the fake saw over the windows they occupy.

    From the first arrival to one window after the last: a limit of N per
    second admits N requests at the start of each window, so first-to-last
    alone would flatter a short run by one window.
    """
    times = [arrival.at for arrival in fake.arrivals]
    return len(times) / (max(times) - min(times) + fake.window)


def run_job(settings: Settings, events: int) -> FakeResend:
    """(a): the batch job over ``events`` pre-published events."""
    with serving(FakeResend(rate=settings.resend_rate_limit)) as fake:
        settings = settings.model_copy(update={"resend_api_url": fake.url})
        create_topics(settings, [topic_set(settings, JOB.topic)])
        with Publisher(settings) as publisher:
            for event in range(events):
                publisher.publish_nowait(
                    "email.send-batch",
                    batch(event),
                    event_id=f"{settings.kafka_topic_prefix}{event}",
                )
        with running(Runner([JOB], settings)):
            wait_until(lambda: len(fake.sent) >= events * EMAILS_PER_EVENT, timeout=events)
    return fake


async def _send_bare(settings: Settings, requests: int, senders: int) -> None:
    async with shared_sender(settings) as sender:
        counter = iter(range(requests))

        async def one_sender() -> None:
            for n in counter:
                params: list[resend.Emails.SendParams] = [
                    {"from": "a@b.example", "to": "c@d.example", "subject": str(n), "text": "x"}
                ]

                async def request(
                    params: list[resend.Emails.SendParams] = params,
                ) -> resend.Batch.SendResponse:
                    return await resend.Batch.send_async(params)

                await sender.send(request, facts={})

        await asyncio.gather(*(one_sender() for _ in range(senders)))


def run_bare(settings: Settings, requests: int) -> FakeResend:
    """(b): ``requests`` batch requests through the SDK and the limiter alone."""
    with serving(FakeResend(rate=settings.resend_rate_limit)) as fake:
        settings = settings.model_copy(update={"resend_api_url": fake.url})
        asyncio.run(_send_bare(settings, requests, JOB.concurrency))
    return fake


def main() -> None:
    """Run (a) and (b) and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=50)
    parser.add_argument("--bare", type=int, default=250)
    args = parser.parse_args()
    configure_logging(level="WARNING", fmt="text")
    settings = load_settings(
        kafka_topic_prefix=f"bench-{uuid.uuid4().hex[:8]}.",
        resend_api_key=API_KEY,
        resend_rate_limit=args.rate,
        email_from="Bench <bench@example.com>",
        email_batch_size=EMAILS_PER_EVENT,
    )
    upgrade(settings)
    started = time.monotonic()
    job = run_job(settings, args.events)
    elapsed = time.monotonic() - started
    bare = run_bare(settings, args.bare)
    job_rate, bare_rate = observed_rate(job), observed_rate(bare)
    print(f"allowed: {args.rate} requests/s; {args.events} events of {EMAILS_PER_EVENT}")
    print(
        f"(a) batch job:       {job_rate:7.2f} requests/s  ratio {job_rate / args.rate:.3f}"
        f"  429s {job.rate_limited}  requests {len(job.arrivals)}  emails {len(job.sent)}"
        f"  wall {elapsed:.1f} s"
    )
    print(
        f"(b) SDK + limiter:   {bare_rate:7.2f} requests/s  ratio {bare_rate / args.rate:.3f}"
        f"  429s {bare.rate_limited}  requests {len(bare.arrivals)}"
    )
    print(f"(a)/(b): {job_rate / bare_rate:.3f}")


if __name__ == "__main__":
    main()

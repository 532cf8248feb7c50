"""The webhook delivery as a Celery task, for the side-by-side benchmark (``bench/compare.py``).

What a team without streamjobs would likely write: Celery with Redis as the
broker, the threads pool, and per task the same work as the obvious consumer
(``bench_webhooks.NaiveDelivery``: validate, sign, a synchronous POST, one
INSERT). ``compare.py`` queues the tasks and starts the worker::

    BENCH_REDIS_URL=redis://127.0.0.1:PORT/0 DATABASE_URL=... \\
        python -m celery -A bench.celery_app worker --pool threads --concurrency 100

Tasks are acknowledged after they ran (``acks_late``), as streamjobs commits
an offset only once its message is finished.
"""

from __future__ import annotations

import os
import threading

import httpx
from celery import Celery
from sqlalchemy import create_engine

from bench.bench_webhooks import NaiveDelivery

CELERY_PREFIX = "celery:"
"""Event ids of the Celery rows get this in front."""

QUEUE = "bench-webhooks"
"""The Redis list the tasks go through."""

app = Celery("bench", broker=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
app.conf.update(
    task_ignore_result=True,
    task_acks_late=True,
    task_default_queue=QUEUE,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)

_delivery: NaiveDelivery | None = None
_delivery_lock = threading.Lock()


def delivery() -> NaiveDelivery:
    """The worker's one delivery object: its HTTP pool and database pool, as wide as the pool."""
    global _delivery
    with _delivery_lock:
        if _delivery is None:
            threads = int(os.environ.get("BENCH_CELERY_CONCURRENCY", "100"))
            engine = create_engine(
                os.environ["DATABASE_URL"], pool_size=threads, max_overflow=0, pool_timeout=120
            )
            limits = httpx.Limits(max_connections=threads, max_keepalive_connections=threads)
            client = httpx.Client(timeout=10.0, trust_env=False, limits=limits)
            _delivery = NaiveDelivery(engine, client, row_prefix=CELERY_PREFIX)
        return _delivery


@app.task(name="bench.deliver")  # type: ignore[untyped-decorator]
def deliver(value: str, event_id: str, number: int) -> None:
    """Deliver one ``webhook.send`` event (its JSON) with id ``event_id``."""
    delivery().send(value.encode(), event_id, origin=("celery", 0, number))

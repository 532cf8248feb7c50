"""Runs one or more jobs in this process until it is told to stop.

Layout of a process: one asyncio loop thread for every handler, one poll
thread per job (each in its own consumer group), and one shared producer for
writing failed messages onward. The main thread waits and handles signals.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Coroutine, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

import uvloop
from confluent_kafka import Consumer, KafkaError, TopicPartition

from consumers.job import Handler, Job
from consumers.runtime.processor import BlockedCallback, Processor, ProcessorOptions
from consumers.runtime.producer import ConfirmingProducer
from consumers.runtime.routing import RetryPolicy
from consumers.runtime.worker import Worker, WorkerOptions
from schemas.topics import EventT
from streamjobs.kafka import consumer_config, topic_set
from streamjobs.settings import Settings

logger = logging.getLogger("streamjobs.consumer")

JOIN_INTERVAL = 0.2
"""Seconds between checks of the poll threads, so signals are handled promptly."""

T = TypeVar("T")


class Runner:
    """Runs ``jobs`` until ``stop``; ``run`` returns the exit status.

    Args:
        jobs: the jobs to consume, each in its own group.
        settings: brokers, topics, limits.
        drain_timeout: seconds to finish in-flight work on shutdown;
            default ``CONSUMER_DRAIN_TIMEOUT``.
        concurrency: messages in flight per job; default ``CONSUMER_CONCURRENCY``
            when set, else each job's own.
    """

    def __init__(
        self,
        jobs: Sequence[Job[Any]],
        settings: Settings,
        *,
        drain_timeout: float | None = None,
        concurrency: int | None = None,
    ) -> None:
        self._jobs = jobs
        self._settings = settings
        self._drain_timeout = (
            settings.consumer_drain_timeout if drain_timeout is None else drain_timeout
        )
        self._concurrency = concurrency or settings.consumer_concurrency
        self._workers: list[Worker] = []
        self._stopped = threading.Event()

    def stop(self) -> None:
        """Stop every worker: no more fetching, drain, commit, leave the groups.

        Safe to call from a signal handler or another thread, also before ``run``.
        """
        self._stopped.set()
        for worker in self._workers:
            worker.stop()

    def run(self) -> int:
        """Consume until stopped; returns 0 after a clean shutdown."""
        with _loop_in_thread() as loop, contextlib.ExitStack() as cleanup:
            producer = ConfirmingProducer(self._settings)
            resources = contextlib.AsyncExitStack()
            cleanup.callback(_call, loop, resources.aclose())
            self._workers = [
                self._worker(
                    job,
                    _call(loop, resources.enter_async_context(self._open(job))),
                    producer,
                    loop,
                )
                for job in self._jobs
            ]
            if self._stopped.is_set():
                self.stop()
            threads = [
                threading.Thread(target=self._run_worker, args=(worker,), name=f"poll-{job.name}")
                for job, worker in zip(self._jobs, self._workers, strict=True)
            ]
            for thread in threads:
                thread.start()
            while any(thread.is_alive() for thread in threads):
                for thread in threads:
                    thread.join(JOIN_INTERVAL)
            for worker in self._workers:
                loop.call_soon_threadsafe(worker.cancel_tasks)
            unconfirmed = producer.close()
        if unconfirmed:
            logger.error("writes onward left unconfirmed", extra={"count": unconfirmed})
            return 1
        if any(worker.failed for worker in self._workers):
            return 1
        logger.info("consumer stopped cleanly", extra={"jobs": [job.name for job in self._jobs]})
        return 0

    def _run_worker(self, worker: Worker) -> None:
        """``worker.run``; if it fails, every other worker stops too."""
        worker.run()
        if worker.failed:
            # A process that consumes some jobs but not others would look healthy
            # to its supervisor; stop it all, so that it exits non-zero and restarts.
            self.stop()

    def concurrency_of(self, job: Job[Any]) -> int:
        """The in-flight limit ``job`` runs with in this process."""
        return self._concurrency or job.concurrency

    def _open(self, job: Job[EventT]) -> AbstractAsyncContextManager[Handler[EventT]]:
        return job.open(self._settings, concurrency=self.concurrency_of(job))

    def _worker(
        self,
        job: Job[Any],
        handler: Handler[Any],
        producer: ConfirmingProducer,
        loop: asyncio.AbstractEventLoop,
    ) -> Worker:
        settings = self._settings
        topics = topic_set(settings, job.topic)
        processor_options = ProcessorOptions(
            max_message_bytes=settings.max_message_bytes,
            policy=RetryPolicy(
                delays=topics.delays,
                jitter=settings.retry_jitter,
                retry_after_max=settings.retry_after_max,
            ),
        )

        def make_processor(on_blocked: BlockedCallback) -> Processor:
            return Processor(
                topics=topics,
                model=job.model,
                handler=handler,
                producer=producer,
                options=processor_options,
                on_blocked=on_blocked,
            )

        config = consumer_config(settings, topics.group) | {
            "error_cb": _log_client_error,
            "on_commit": _log_commit_error,
        }
        return Worker(
            consumer=Consumer(config),
            topics=topics.consumed,
            main_topic=topics.main,
            make_processor=make_processor,
            loop=loop,
            options=WorkerOptions(
                concurrency=self.concurrency_of(job) * job.overlap,
                drain_timeout=self._drain_timeout,
                commit_interval=settings.kafka_commit_interval,
                max_parked=settings.consumer_max_parked,
            ),
        )

    def run_until_signalled(self) -> int:
        """``run``, stopping on the first SIGTERM or SIGINT (main thread only)."""
        previous = {
            signum: signal.signal(signum, lambda *_: self.stop())
            for signum in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            return self.run()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def _log_client_error(error: KafkaError) -> None:
    logger.warning("kafka client error", extra={"error": error.str()})


def _log_commit_error(error: KafkaError | None, partitions: list[TopicPartition]) -> None:
    # Nothing to commit is no failure; a failed commit is redone by the next one.
    if error is not None and error.code() != KafkaError._NO_OFFSET:
        logger.warning("commit failed", extra={"error": error.str()})


def _call(loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on ``loop`` (another thread's) and wait for its result."""
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result()


@contextlib.contextmanager
def _loop_in_thread() -> Iterator[asyncio.AbstractEventLoop]:
    """A uvloop event loop running in a daemon thread; stopped and closed on exit.

    uvloop, not asyncio's own loop: with a hundred deliveries in flight the
    loop's own work is a third of aiohttp's cost per request (README, Benchmarks).
    """
    loop = uvloop.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="handlers", daemon=True)
    thread.start()
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()

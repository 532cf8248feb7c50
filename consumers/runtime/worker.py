"""The poll loop of one job: fetch, hand out, commit, pause and resume.

The loop runs in a thread of its own and is the only code that touches the
consumer, the rebalance callbacks included (librdkafka calls them from
within ``consume``, on this thread). Handlers run on the asyncio loop
(``handlers.py``) and report back through a queue, so the loop never waits
on a handler and never sleeps on a delay: a delay-topic message that is not
due yet is parked in memory until it is (``parking.py``), or, when the lot
is full, sought back to and its partition paused until the due time.

Why a partition is paused lives in ``pauses.py``; ``_reconcile`` makes
librdkafka match it. Offsets are committed by this loop, not by librdkafka's
auto-commit, every ``KAFKA_COMMIT_INTERVAL``: with each committed position
goes the set of finished offsets above it (``completed.py``), which the next
owner of the partition skips. A crash then redoes only work that was in
flight, or finished within the last commit interval.
"""

from __future__ import annotations

import asyncio
import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from consumers.runtime import completed
from consumers.runtime.handlers import Finished, Handlers, Work
from consumers.runtime.inbound import not_before
from consumers.runtime.offsets import PartitionKey, PartitionOffsets
from consumers.runtime.parking import ParkingLot
from consumers.runtime.pauses import Pauses
from consumers.runtime.processor import BlockedCallback, Processor
from producers.messages import coordinates, read_headers

logger = logging.getLogger("streamjobs.consumer")

POLL_TIMEOUT = 0.1
"""Longest wait, in seconds, for new messages while nothing is in flight."""

RESULT_POLL_TIMEOUT = 0.005
"""Longest wait, in seconds, for new messages while work is in flight: results
are collected (and committed) this late at most."""

PREFETCH = 500
"""Messages fetched beyond those being handled, queued for the next free
handler; they keep the handlers busy between polls. Queued messages are not
started after a revoke or once the worker stops."""

BATCH_SIZE = 500
"""Most messages fetched per poll."""

REVOKE_GRACE = 5.0
"""Seconds to finish in-flight work of revoked partitions before their results are dropped."""

COMMITTED_TIMEOUT = 10.0
"""Seconds to wait for the committed offsets (and their metadata) of new partitions."""


@dataclass(frozen=True, kw_only=True)
class WorkerOptions:
    """How one worker consumes.

    Args:
        concurrency: messages handled at once at most (default 100).
        drain_timeout: seconds to finish in-flight work on shutdown (default 30).
        commit_interval: seconds between commits while offsets move (default 0.05).
        max_parked: most not-yet-due delay-topic messages held in memory
            (default 10,000); beyond it, partitions pause at such messages.
    """

    concurrency: int = 100
    drain_timeout: float = 30.0
    commit_interval: float = 0.05
    max_parked: int = 10_000


class Worker:
    """Consumes one job's main and delay topics in one consumer group.

    Args:
        consumer: a consumer configured for the job's group (not yet
            subscribed, auto-commit off).
        topics: names of the topics to subscribe to.
        main_topic: the job's main topic; any other subscribed topic is a delay topic.
        make_processor: builds the processor that takes each message to
            finished, given the callback for blocked partitions.
        loop: the asyncio loop the handlers run on.
        options: limits and timeouts.
    """

    def __init__(
        self,
        *,
        consumer: Consumer,
        topics: Iterable[str],
        main_topic: str,
        make_processor: Callable[[BlockedCallback], Processor],
        loop: asyncio.AbstractEventLoop,
        options: WorkerOptions,
    ) -> None:
        self._consumer = consumer
        self._topics = list(topics)
        self._main_topic = main_topic
        self._loop = loop
        self._options = options
        self._trackers: dict[PartitionKey, PartitionOffsets] = {}
        self._parking = ParkingLot(options.max_parked)
        self._pauses = Pauses()
        self._paused: set[PartitionKey] = set()
        """What librdkafka has paused, as this worker told it."""
        self._uncommitted: set[PartitionKey] = set()
        self._next_commit = 0.0
        self._in_flight = 0
        self._results: queue.SimpleQueue[Finished] = queue.SimpleQueue()
        self._blocked_notices: queue.SimpleQueue[tuple[PartitionKey, bool]] = queue.SimpleQueue()
        self._wakeup = threading.Event()
        self._stop_requested = threading.Event()
        self.failed = False
        """True when the poll loop failed or a message could not be finished."""
        self._handlers = Handlers(
            processor=make_processor(self.notify_blocked),
            concurrency=options.concurrency,
            results=self._results,
            wakeup=self._wakeup,
            on_failure=self._fail,
        )

    # -- public -----------------------------------------------------------------

    def run(self) -> None:
        """Consume until ``stop`` is called, then drain, commit and leave the group.

        Sets ``failed`` when the loop ends by an exception or a message could
        not be finished; the owner then stops the process with a failure status.
        """
        self._loop.call_soon_threadsafe(self._handlers.start)
        self._consumer.subscribe(
            self._topics,
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        try:
            while not self._stop_requested.is_set():
                self._step()
            self._drain()
        except BaseException:  # a thread has no caller to raise to
            self.failed = True
            logger.exception("poll loop failed; stopping the process")
        finally:
            self._consumer.close()

    def stop(self) -> None:
        """Ask the loop to stop fetching and drain; safe from any thread or a signal handler."""
        self._stop_requested.set()
        self._wakeup.set()

    def notify_blocked(self, key: PartitionKey, blocked: bool) -> None:
        """Called from the handler loop when writing onward fails (True) or recovers."""
        self._blocked_notices.put((key, blocked))
        self._wakeup.set()

    def cancel_tasks(self) -> None:
        """Stop the handler tasks, with whatever still runs after the drain (call on the loop)."""
        self._handlers.cancel()

    def _fail(self) -> None:
        self.failed = True
        self.stop()

    # -- the loop ----------------------------------------------------------------

    def _step(self) -> None:
        self._collect_finished()
        self._commit_due()
        self._apply_blocked_notices()
        self._reconcile(self._pauses.resume_due(time.time()))
        self._release_parked()
        room = self._options.concurrency + PREFETCH - self._in_flight
        if self._pauses.track_capacity(room, time.monotonic()):
            self._reconcile(list(self._trackers))
        if room > 0 or self._pauses.saturated:
            wanted = max(1, min(room, BATCH_SIZE))
            self._accept(self._consumer.consume(wanted, self._poll_timeout()))
        else:
            self._wakeup.wait(self._poll_timeout())
            self._wakeup.clear()

    def _poll_timeout(self) -> float:
        now = time.time()
        limits = [POLL_TIMEOUT, (self._pauses.next_due or math.inf) - now]
        limits.append((self._parking.next_due or math.inf) - now)
        if self._in_flight:
            limits.append(RESULT_POLL_TIMEOUT)
        if self._uncommitted:
            limits.append(self._next_commit - time.monotonic())
        return max(0.0, min(limits))

    def _accept(self, messages: list[Message]) -> None:
        """Hand out due messages; hold back the first not-due one of each delay partition."""
        accepted: list[Work] = []
        held: set[PartitionKey] = set()
        now = time.time()
        for message in messages:
            if (error := message.error()) is not None:
                logger.warning("consumer error", extra={"error": error.str()})
                continue
            where = coordinates(message)
            topic, partition, offset = where
            key = (topic, partition)
            tracker = self._trackers.get(key)
            # After a seek and pause librdkafka re-fetches from the sought offset,
            # so a message of a paused or held partition is safe to drop.
            if tracker is None or key in held or key in self._paused:
                continue
            if tracker.skip.take(offset):
                tracker.accept(offset)
                tracker.finish(offset)  # finished by the previous owner
                self._uncommitted.add(key)
                continue
            if topic != self._main_topic:
                due = not_before(read_headers(message))
                if due > now and self._parking.has_room:
                    tracker.accept(offset)
                    self._parking.park(due, tracker, message)
                    continue
                if due > now:
                    self._hold(tracker, offset, due)
                    held.add(key)
                    continue
            tracker.accept(offset)
            accepted.append((tracker, message, where))
        self._hand_out(accepted)

    def _hand_out(self, work: list[Work]) -> None:
        if work:
            self._in_flight += len(work)
            self._loop.call_soon_threadsafe(self._handlers.hand_out, work)

    def _release_parked(self) -> None:
        self._hand_out(
            [
                (tracker, message, coordinates(message))
                for tracker, message in self._parking.release(time.time())
                if self._trackers.get(tracker.key) is tracker
            ]
        )

    def _unpark(self, keys: Iterable[PartitionKey]) -> None:
        """Give up the parked messages of ``keys``; their offsets stay uncommitted."""
        for tracker, message in self._parking.evict(keys):
            tracker.abandon(coordinates(message)[2])

    def _collect_finished(self) -> None:
        while True:
            try:
                tracker, offset, finished = self._results.get_nowait()
            except queue.Empty:
                return
            self._in_flight -= 1
            if self._trackers.get(tracker.key) is not tracker:
                continue  # its partition was revoked meanwhile
            if finished:
                tracker.finish(offset)
                self._uncommitted.add(tracker.key)
            else:
                tracker.abandon(offset)

    # -- committing -----------------------------------------------------------------

    def _commit_due(self) -> None:
        if self._uncommitted and time.monotonic() >= self._next_commit:
            self._commit(self._uncommitted, asynchronous=True)
            self._next_commit = time.monotonic() + self._options.commit_interval

    def _commit(self, keys: Iterable[PartitionKey], *, asynchronous: bool) -> None:
        """Commit the positions of ``keys``, each with its completed offsets above it."""
        offsets = [
            TopicPartition(
                *key,
                position,
                metadata=completed.encode(position, tracker.completed),
            )
            for key in keys
            if (tracker := self._trackers.get(key)) is not None
            and (position := tracker.position) is not None
        ]
        self._uncommitted.difference_update(keys)
        if not offsets:
            return
        try:
            if asynchronous:  # the outcome reaches the consumer's ``on_commit``
                self._consumer.commit(offsets=offsets, asynchronous=True)
            else:
                self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError._NO_OFFSET:
                logger.warning("commit failed", extra={"error": exc.args[0].str()})

    # -- pausing -------------------------------------------------------------------

    def _hold(self, tracker: PartitionOffsets, offset: int, due: float) -> None:
        tracker.next_offset = offset
        self._pauses.delay(tracker.key, until=due)
        self._reconcile([tracker.key])

    def _apply_blocked_notices(self) -> None:
        changed: list[PartitionKey] = []
        while True:
            try:
                key, blocked = self._blocked_notices.get_nowait()
            except queue.Empty:
                break
            self._pauses.block(key, blocked)
            changed.append(key)
        self._reconcile(changed)

    def _reconcile(self, keys: Iterable[PartitionKey]) -> None:
        """Make librdkafka's pause state of ``keys`` match what ``Pauses`` wants."""
        owned = [key for key in keys if key in self._trackers]
        if not owned:  # the usual case: every step reconciles what changed, mostly nothing
            return
        wanted = self._pauses.paused(owned)
        to_pause = [key for key in owned if key in wanted and key not in self._paused]
        to_resume = [key for key in owned if key not in wanted and key in self._paused]
        for key in to_pause:
            next_offset = self._trackers[key].next_offset
            if next_offset is not None:
                # Re-fetch from the first message not handed out, whatever was prefetched.
                self._consumer.seek(TopicPartition(*key, next_offset))
        if to_pause:
            self._consumer.pause([TopicPartition(*key) for key in to_pause])
            self._paused.update(to_pause)
        if to_resume:
            self._consumer.resume([TopicPartition(*key) for key in to_resume])
            self._paused.difference_update(to_resume)

    # -- rebalancing and shutdown ------------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """librdkafka assigns ``partitions`` (cooperative: in addition to the ones held).

        Called from within ``consume`` on the poll thread, before any of their
        messages is fetched. Each partition gets a fresh tracker, seeded with
        the offsets its last commit recorded complete, which are then finished
        without being handled; pause reasons left from an earlier assignment are
        dropped, and librdkafka (which keeps pauses across rebalances) is
        resumed and reconciled.
        """
        keys = [(tp.topic, tp.partition) for tp in partitions]
        for tp in self._committed(consumer, partitions):
            key = (tp.topic, tp.partition)
            skip = completed.decode(tp.metadata, position=tp.offset) if tp.offset >= 0 else None
            self._trackers[key] = PartitionOffsets(*key, skip=skip)
            self._pauses.forget(key)
        consumer.incremental_assign(partitions)
        consumer.resume(partitions)
        self._paused.difference_update(keys)
        self._reconcile(keys)
        logger.info("partitions assigned", extra={"partitions": _names(keys)})

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """librdkafka takes ``partitions`` away in an orderly rebalance (or on close).

        Called from within ``consume`` (or ``close``) on the poll thread; the
        group waits for it to return. Finished: in-flight messages of those
        partitions, for up to ``REVOKE_GRACE`` seconds (none when stopping: the
        drain did that). Dropped: their queued and parked messages, unstarted,
        and results that arrive later. What is complete is committed, with its
        metadata, before the partitions move on.
        """
        keys = [(tp.topic, tp.partition) for tp in partitions]
        for key in keys:
            if key in self._trackers:
                self._trackers[key].revoked = True  # queued messages are not started
        self._unpark(keys)
        self._loop.call_soon_threadsafe(self._handlers.drop_queued)
        if not self._pauses.stopping:  # a stopping worker has drained already
            self._wait_for(keys, REVOKE_GRACE)
        self._commit(keys, asynchronous=False)
        self._forget(keys)
        logger.info("partitions revoked", extra={"partitions": _names(keys)})

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """librdkafka lost ``partitions`` (session timed out; another member may own them).

        Called from within ``consume`` on the poll thread. Nothing is
        committed, since the partitions may already be someone else's; parked
        messages and later results are dropped, and in-flight work runs out
        unrecorded, to be redone by the new owner.
        """
        keys = [(tp.topic, tp.partition) for tp in partitions]
        self._unpark(keys)
        self._forget(keys)
        logger.warning("partitions lost", extra={"partitions": _names(keys)})

    def _committed(
        self, consumer: Consumer, partitions: list[TopicPartition]
    ) -> list[TopicPartition]:
        """The committed offsets and metadata of ``partitions``; unknown ones when that fails."""
        try:
            result: list[TopicPartition] = consumer.committed(partitions, timeout=COMMITTED_TIMEOUT)
        except KafkaException as exc:
            # Without the metadata nothing is skipped: more is redone, nothing is lost.
            logger.warning("committed offsets unavailable", extra={"error": str(exc.args[0])})
            return [TopicPartition(tp.topic, tp.partition) for tp in partitions]
        return result

    def _forget(self, keys: list[PartitionKey]) -> None:
        for key in keys:
            if (tracker := self._trackers.pop(key, None)) is not None:
                tracker.revoked = True
            self._pauses.forget(key)
            self._paused.discard(key)
            self._uncommitted.discard(key)

    def _wait_for(self, keys: list[PartitionKey], timeout: float) -> None:
        """Collect results until the partitions' in-flight work is done or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._collect_finished()
            if all(self._trackers[key].unfinished == 0 for key in keys if key in self._trackers):
                return
            self._wakeup.wait(min(RESULT_POLL_TIMEOUT, max(0.0, deadline - time.monotonic())))
            self._wakeup.clear()
        self._collect_finished()

    def _drain(self) -> None:
        """Stop fetching, let in-flight work finish (bounded), then commit."""
        self._pauses.stop()
        self._handlers.stopping = True
        self._unpark(list(self._trackers))
        self._loop.call_soon_threadsafe(self._handlers.drop_queued)
        self._reconcile(list(self._trackers))
        deadline = time.monotonic() + self._options.drain_timeout
        while self._in_flight > 0 and time.monotonic() < deadline:
            self._collect_finished()
            self._commit_due()
            # Polling serves rebalance callbacks; paused partitions yield nothing.
            # Never negative: confluent-kafka reads a negative timeout as "wait forever".
            timeout = max(0.0, min(POLL_TIMEOUT, deadline - time.monotonic()))
            self._accept(self._consumer.consume(1, timeout))
        self._collect_finished()
        if self._in_flight:
            logger.warning(
                "drain timeout: abandoning in-flight messages", extra={"in_flight": self._in_flight}
            )
        self._commit(list(self._trackers), asynchronous=False)


def _names(keys: Iterable[PartitionKey]) -> list[str]:
    return [f"{topic}[{partition}]" for topic, partition in keys]

"""The poll loop of one job: fetch, hand out, store offsets, pause and resume.

The loop runs in a thread of its own and is the only code that touches the
consumer. Handlers run as tasks on a shared asyncio loop and report back
through a queue, so the loop never waits on a handler and never sleeps on a
delay: a delay-topic message that is not due yet is parked in memory until it
is (``parking.py``), or, when the lot is full, sought back to and its
partition paused until the due time.

A partition is paused while any of these holds: its head message is not due
and the lot is full (``_delayed``), writing a failed message onward fails
(``_blocked``), the process has been at its in-flight limit for a while
(``_saturated``), or the worker is stopping. Paused state is kept here, not trusted to librdkafka,
which keeps pauses across rebalances; every assignment change reconciles it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from consumers.runtime.inbound import not_before
from consumers.runtime.offsets import PartitionKey, PartitionOffsets
from consumers.runtime.parking import ParkingLot
from consumers.runtime.processor import BlockedCallback, Processor
from producers.messages import coordinates, read_headers

logger = logging.getLogger("streamjobs.consumer")

POLL_TIMEOUT = 0.1
"""Longest wait, in seconds, for new messages; bounds how late results are noticed."""

SATURATION_PAUSE_AFTER = 10.0
"""Seconds at the in-flight limit after which partitions are paused, so that the
loop can keep polling (and stay in the group) without taking new messages."""


@dataclass(frozen=True, kw_only=True)
class WorkerOptions:
    """How one worker consumes.

    Args:
        concurrency: messages handled at once at most (default 100).
        prefetch: messages fetched beyond those being handled, queued for the
            next free handler (default 500); they keep the handlers busy
            between polls. Queued messages are not started after a revoke or
            once the worker stops.
        drain_timeout: seconds to finish in-flight work on shutdown (default 30).
        revoke_grace: seconds to finish in-flight work of revoked partitions
            before their results are dropped (default 5).
        batch_size: most messages fetched per poll (default 500).
        max_parked: most not-yet-due delay-topic messages held in memory
            (default 10,000); beyond it, partitions pause at such messages.
    """

    concurrency: int = 100
    prefetch: int = 500
    drain_timeout: float = 30.0
    revoke_grace: float = 5.0
    batch_size: int = 500
    max_parked: int = 10_000


Finished = tuple[PartitionOffsets, int, bool]
"""A handed-out message came back: its tracker, its offset, and whether it is finished."""


class Worker:
    """Consumes one job's main and delay topics in one consumer group.

    Args:
        consumer: a consumer configured for the job's group (not yet subscribed).
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
        self._processor = make_processor(self.notify_blocked)
        self._loop = loop
        self._options = options
        self._trackers: dict[PartitionKey, PartitionOffsets] = {}
        self._delayed: dict[PartitionKey, float] = {}
        self._parking = ParkingLot(options.max_parked)
        # Per partition, how many of its messages are failing to be written onward.
        self._blocked: Counter[PartitionKey] = Counter()
        self._paused: set[PartitionKey] = set()
        self._saturated_since: float | None = None
        self._saturated = False
        self._in_flight = 0
        self._finished: queue.SimpleQueue[Finished] = queue.SimpleQueue()
        self._blocked_notices: queue.SimpleQueue[tuple[PartitionKey, bool]] = queue.SimpleQueue()
        self._wakeup = threading.Event()
        self._stop_requested = threading.Event()
        self.failed = False
        """True when the poll loop failed or a message could not be finished."""
        self._stopping = False
        self._inbox: asyncio.Queue[tuple[PartitionOffsets, Message]] = asyncio.Queue()
        self._handler_tasks: list[asyncio.Task[None]] = []

    # -- public -----------------------------------------------------------------

    def run(self) -> None:
        """Consume until ``stop`` is called, then drain, commit and leave the group.

        Sets ``failed`` when the loop ends by an exception or a message could
        not be finished; the owner then stops the process with a failure status.
        """
        self._loop.call_soon_threadsafe(self._start_handler_tasks)
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

    # -- the loop ----------------------------------------------------------------

    def _step(self) -> None:
        self._collect_finished()
        self._apply_blocked_notices()
        self._resume_due()
        self._release_parked()
        capacity = self._options.concurrency + self._options.prefetch - self._in_flight
        self._track_saturation(capacity)
        if capacity > 0 or self._saturated:
            wanted = max(1, min(capacity, self._options.batch_size))
            self._accept(self._consumer.consume(wanted, self._poll_timeout()))
        else:
            self._wakeup.wait(POLL_TIMEOUT)
            self._wakeup.clear()

    def _poll_timeout(self) -> float:
        next_due = min([*self._delayed.values(), self._parking.next_due or math.inf])
        return max(0.0, min(POLL_TIMEOUT, next_due - time.time()))

    def _accept(self, messages: list[Message]) -> None:
        """Hand out due messages; hold back the first not-due one of each delay partition."""
        accepted: list[tuple[PartitionOffsets, Message]] = []
        held: set[PartitionKey] = set()
        now = time.time()
        for message in messages:
            if (error := message.error()) is not None:
                logger.warning("consumer error", extra={"error": error.str()})
                continue
            topic, partition, offset = coordinates(message)
            key = (topic, partition)
            tracker = self._trackers.get(key)
            # After a seek and pause librdkafka re-fetches from the sought offset,
            # so a message of a paused or held partition is safe to drop.
            if tracker is None or key in held or key in self._paused:
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
            accepted.append((tracker, message))
        if accepted:
            self._in_flight += len(accepted)
            self._loop.call_soon_threadsafe(self._hand_out, accepted)

    def _release_parked(self) -> None:
        due = [
            (tracker, message)
            for tracker, message in self._parking.release(time.time())
            if self._trackers.get(tracker.key) is tracker
        ]
        if due:
            self._in_flight += len(due)
            self._loop.call_soon_threadsafe(self._hand_out, due)

    def _unpark(self, keys: Iterable[PartitionKey]) -> None:
        """Give up the parked messages of ``keys``; their offsets stay uncommitted."""
        for tracker, message in self._parking.evict(keys):
            tracker.abandon(coordinates(message)[2])

    def _collect_finished(self) -> None:
        positions: dict[PartitionKey, int] = {}
        while True:
            try:
                tracker, offset, finished = self._finished.get_nowait()
            except queue.Empty:
                break
            self._in_flight -= 1
            if self._trackers.get(tracker.key) is not tracker:
                continue  # its partition was revoked meanwhile
            if not finished:
                tracker.abandon(offset)
                continue
            position = tracker.finish(offset)
            if position is not None:
                positions[tracker.key] = position
        if positions:
            self._consumer.store_offsets(
                offsets=[TopicPartition(t, p, offset) for (t, p), offset in positions.items()]
            )

    # -- pausing -------------------------------------------------------------------

    def _hold(self, tracker: PartitionOffsets, offset: int, due: float) -> None:
        tracker.next_offset = offset
        self._delayed[tracker.key] = due
        self._reconcile([tracker.key])

    def _resume_due(self) -> None:
        now = time.time()
        due = [key for key, at in self._delayed.items() if at <= now]
        for key in due:
            del self._delayed[key]
        self._reconcile(due)

    def _apply_blocked_notices(self) -> None:
        changed: list[PartitionKey] = []
        while True:
            try:
                key, blocked = self._blocked_notices.get_nowait()
            except queue.Empty:
                break
            # Several messages of one partition may fail to be written onward;
            # the partition stays paused until the last of them recovers.
            self._blocked[key] += 1 if blocked else -1
            if self._blocked[key] <= 0:
                del self._blocked[key]
            changed.append(key)
        self._reconcile(changed)

    def _track_saturation(self, capacity: int) -> None:
        if capacity > 0:
            self._saturated_since = None
            if self._saturated:
                self._saturated = False
                self._reconcile(list(self._trackers))
        elif self._saturated_since is None:
            self._saturated_since = time.monotonic()
        elif (
            not self._saturated
            and time.monotonic() - self._saturated_since > SATURATION_PAUSE_AFTER
        ):
            self._saturated = True
            self._reconcile(list(self._trackers))

    def _wants_pause(self, key: PartitionKey) -> bool:
        return self._stopping or self._saturated or key in self._delayed or key in self._blocked

    def _reconcile(self, keys: Iterable[PartitionKey]) -> None:
        """Make librdkafka's pause state of ``keys`` match what this worker wants."""
        to_pause: list[TopicPartition] = []
        to_resume: list[TopicPartition] = []
        for key in keys:
            tracker = self._trackers.get(key)
            if tracker is None:
                continue
            if self._wants_pause(key) and key not in self._paused:
                if tracker.next_offset is not None:
                    # Re-fetch from the first message not handed out, whatever was prefetched.
                    self._consumer.seek(TopicPartition(*key, tracker.next_offset))
                to_pause.append(TopicPartition(*key))
                self._paused.add(key)
            elif not self._wants_pause(key) and key in self._paused:
                to_resume.append(TopicPartition(*key))
                self._paused.discard(key)
        if to_pause:
            self._consumer.pause(to_pause)
        if to_resume:
            self._consumer.resume(to_resume)

    # -- handler side (runs on the asyncio loop) -------------------------------------

    def _start_handler_tasks(self) -> None:
        # One long-lived task per unit of concurrency: a message costs a queue
        # hand-off instead of a new task, and each handler still runs in a task
        # of its own (libraries such as aiohttp need ``current_task()``).
        self._handler_tasks = [
            self._loop.create_task(self._handle_forever()) for _ in range(self._options.concurrency)
        ]

    def _hand_out(self, accepted: list[tuple[PartitionOffsets, Message]]) -> None:
        for item in accepted:
            self._inbox.put_nowait(item)

    def _drop_queued(self) -> None:
        """Give back queued messages of revoked partitions, or all once stopping.

        Waiting for a free handler to skip them would hold up a rebalance or a
        shutdown for as long as the slowest handler runs.
        """
        kept: list[tuple[PartitionOffsets, Message]] = []
        while not self._inbox.empty():
            tracker, message = self._inbox.get_nowait()
            if tracker.revoked or self._stopping:
                self._report(tracker, coordinates(message)[2], finished=False)
            else:
                kept.append((tracker, message))
        for item in kept:
            self._inbox.put_nowait(item)

    async def _handle_forever(self) -> None:
        while True:
            tracker, message = await self._inbox.get()
            if tracker.revoked or self._stopping:
                self._report(tracker, coordinates(message)[2], finished=False)
            else:
                await self._process(tracker, message)

    async def _process(self, tracker: PartitionOffsets, message: Message) -> None:
        offset = coordinates(message)[2]
        finished = False
        try:
            await self._processor.process(message)
            finished = True
        except asyncio.CancelledError:
            raise
        except BaseException:
            # process() routes every handler error, so this is a runtime bug, a
            # handler escaping with a BaseException, or a producer that can no
            # longer write. The offset stays uncommitted; stop, so that the
            # process exits non-zero and a restart takes the message again.
            logger.exception(
                "message could not be finished; stopping",
                extra={"topic": tracker.topic, "partition": tracker.partition, "offset": offset},
            )
            self.failed = True
            self.stop()
        finally:
            self._report(tracker, offset, finished=finished)

    def _report(self, tracker: PartitionOffsets, offset: int, *, finished: bool) -> None:
        self._finished.put((tracker, offset, finished))
        if not self._wakeup.is_set():
            self._wakeup.set()

    def cancel_tasks(self) -> None:
        """Stop the handler tasks, with whatever still runs after the drain (call on the loop)."""
        for task in self._handler_tasks:
            task.cancel()

    # -- rebalancing and shutdown ------------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        keys = [(tp.topic, tp.partition) for tp in partitions]
        for key in keys:
            self._trackers[key] = PartitionOffsets(*key)
            self._delayed.pop(key, None)
            self._blocked.pop(key, None)
        consumer.incremental_assign(partitions)
        # librdkafka keeps a partition paused across a rebalance; start from a clean slate.
        consumer.resume(partitions)
        self._paused.difference_update(keys)
        self._reconcile(keys)
        logger.info("partitions assigned", extra={"partitions": _names(keys)})

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        keys = [(tp.topic, tp.partition) for tp in partitions]
        for key in keys:
            if key in self._trackers:
                self._trackers[key].revoked = True  # queued messages are not started
        self._unpark(keys)
        self._loop.call_soon_threadsafe(self._drop_queued)
        if not self._stopping:  # a stopping worker has drained already
            self._wait_for(keys, self._options.revoke_grace)
        self._commit()
        self._forget(keys)
        logger.info("partitions revoked", extra={"partitions": _names(keys)})

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        keys = [(tp.topic, tp.partition) for tp in partitions]
        self._unpark(keys)
        self._forget(keys)
        logger.warning("partitions lost", extra={"partitions": _names(keys)})

    def _forget(self, keys: list[PartitionKey]) -> None:
        for key in keys:
            if (tracker := self._trackers.pop(key, None)) is not None:
                tracker.revoked = True
            self._delayed.pop(key, None)
            self._blocked.pop(key, None)
            self._paused.discard(key)

    def _wait_for(self, keys: list[PartitionKey], timeout: float) -> None:
        """Collect results until the partitions' in-flight work is done or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._collect_finished()
            if all(self._trackers[key].unfinished == 0 for key in keys if key in self._trackers):
                return
            self._wakeup.wait(min(POLL_TIMEOUT, max(0.0, deadline - time.monotonic())))
            self._wakeup.clear()
        self._collect_finished()

    def _drain(self) -> None:
        """Stop fetching, let in-flight work finish (bounded), then commit."""
        self._stopping = True
        self._unpark(list(self._trackers))
        self._loop.call_soon_threadsafe(self._drop_queued)
        self._reconcile(list(self._trackers))
        deadline = time.monotonic() + self._options.drain_timeout
        while self._in_flight > 0 and time.monotonic() < deadline:
            self._collect_finished()
            # Polling serves rebalance callbacks; paused partitions yield nothing.
            # Never negative: confluent-kafka reads a negative timeout as "wait forever".
            timeout = max(0.0, min(POLL_TIMEOUT, deadline - time.monotonic()))
            self._accept(self._consumer.consume(1, timeout))
        self._collect_finished()
        if self._in_flight:
            logger.warning(
                "drain timeout: abandoning in-flight messages", extra={"in_flight": self._in_flight}
            )
        self._commit()

    def _commit(self) -> None:
        try:
            self._consumer.commit(asynchronous=False)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError._NO_OFFSET:
                logger.warning("commit failed", extra={"error": exc.args[0].str()})


def _names(keys: Iterable[PartitionKey]) -> list[str]:
    return [f"{topic}[{partition}]" for topic, partition in keys]

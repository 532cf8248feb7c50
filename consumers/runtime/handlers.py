"""The handler side of a worker: an inbox, long-lived handler tasks, results back.

Runs on the process's asyncio loop. The poll thread puts messages into the
inbox (through ``loop.call_soon_threadsafe``); one task per unit of
concurrency takes them out, runs the processor, and reports every message
back on the results queue, finished or not. The two sides share nothing
else: whether a message may still start is read from its tracker
(``revoked``) and from ``stopping``.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable

from confluent_kafka import Message

from consumers.runtime.inbox import Inbox
from consumers.runtime.offsets import PartitionOffsets
from consumers.runtime.processor import Processor

logger = logging.getLogger("streamjobs.consumer")

Work = tuple[PartitionOffsets, Message, tuple[str, int, int]]
"""A message handed out, with the tracker of its partition and its coordinates
(read once, by the poll thread)."""

Finished = tuple[PartitionOffsets, int, bool]
"""A handed-out message came back: its tracker, its offset, and whether it is finished."""


class Handlers:
    """Runs handed-out messages through ``processor``, ``concurrency`` at a time.

    Args:
        processor: takes one message to finished.
        concurrency: handler tasks, so messages handled at once at most.
        results: where every handed-out message is reported back.
        wakeup: set after a report when the inbox runs low (fewer queued
            messages than handler tasks), or for a revoked partition or a
            stop, so that a waiting poll loop looks at once. Otherwise it
            looks on its own within ``worker.RESULT_POLL_TIMEOUT``: waking it for
            every message cost a thread switch and a one-message fetch each.
        on_failure: called (on the loop) when a message could not be finished;
            the owner stops, so that the process exits non-zero.
    """

    def __init__(
        self,
        *,
        processor: Processor,
        concurrency: int,
        results: queue.SimpleQueue[Finished],
        wakeup: threading.Event,
        on_failure: Callable[[], None],
    ) -> None:
        self._processor = processor
        self._concurrency = concurrency
        self._results = results
        self._wakeup = wakeup
        self._on_failure = on_failure
        self._inbox: Inbox[Work] = Inbox()
        self._tasks: list[asyncio.Task[None]] = []
        self.stopping = False
        """Set by the poll thread when draining: queued messages are not started."""

    def start(self) -> None:
        """Start the handler tasks (call on the loop)."""
        # One long-lived task per unit of concurrency: a message costs a queue
        # hand-off instead of a new task, and each handler still runs in a task
        # of its own (libraries such as aiohttp need ``current_task()``).
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._handle_forever()) for _ in range(self._concurrency)]

    def hand_out(self, work: list[Work]) -> None:
        """Queue ``work`` for the next free handlers (call on the loop)."""
        self._inbox.put(work)

    def drop_queued(self) -> None:
        """Give back queued messages of revoked partitions, or all once stopping (on the loop).

        Waiting for a free handler to skip them would hold up a rebalance or a
        shutdown for as long as the slowest handler runs.
        """
        queued = list(self._inbox.items)
        self._inbox.items.clear()
        kept: list[Work] = []
        for work in queued:
            tracker, _, (_, _, offset) = work
            if tracker.revoked or self.stopping:
                self._report(tracker, offset, finished=False)
            else:
                kept.append(work)
        self.hand_out(kept)

    def cancel(self) -> None:
        """Stop the handler tasks, with whatever still runs after the drain (on the loop)."""
        for task in self._tasks:
            task.cancel()

    async def _handle_forever(self) -> None:
        # One loop per task, the message's steps inline: a coroutine per step
        # would be a frame per message more.
        queued = self._inbox.items
        while True:
            if not queued:
                await self._inbox.wait()
            tracker, message, where = queued.popleft()
            finished = False
            try:
                if not (tracker.revoked or self.stopping):
                    await self._processor.process(message, where)
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
                    extra={"topic": where[0], "partition": where[1], "offset": where[2]},
                )
                self._on_failure()
            finally:
                self._report(tracker, where[2], finished=finished)

    def _report(self, tracker: PartitionOffsets, offset: int, *, finished: bool) -> None:
        self._results.put((tracker, offset, finished))
        urgent = tracker.revoked or self.stopping or len(self._inbox.items) < self._concurrency
        if urgent and not self._wakeup.is_set():
            self._wakeup.set()

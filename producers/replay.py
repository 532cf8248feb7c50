"""A replay that remembers how far it got.

Each replay reads the dead-letter topic from the committed offsets of a
consumer group of its own (the cursor; no member ever joins it), re-sends what
the selection keeps and commits a partition's offset only past dead letters
that are settled: skipped by the selection, or re-sent and confirmed by the
broker. So a second run with the same criteria sends nothing, an interrupted
run resumes where it stopped, and ``from_start`` replays everything again.

The cursor is per dead-letter topic and per set of criteria as the operator
typed them (``--key K --since 2h`` is one cursor, whatever the clock says), so
replaying one endpoint's letters never hides another's from a later replay.
``--limit`` is no criterion: a limited run is continued by the next one.

Memory stays bounded however large the DLQ: the reader prefetches at most
``QUEUED_KBYTES`` and at most ``MAX_IN_FLIGHT`` re-sent letters await the
broker's confirmation at any time.
"""

from __future__ import annotations

import contextlib
import hashlib
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from producers.dlq import DeadLetter, Scan, Selection, replay_headers
from producers.publisher import Delivered, Publisher
from schemas.topics import TopicSet
from streamjobs.settings import Settings

MAX_IN_FLIGHT = 1000
"""Re-sent dead letters awaiting the broker's confirmation at most."""

COMMIT_INTERVAL = 1.0
"""Seconds between commits of the cursor while a replay runs (and once at its end)."""

PROGRESS_INTERVAL = 0.2
"""Seconds between two progress reports."""

CURSOR_GROUP = "streamjobs.dlq-replay."
"""Prefix of cursor groups; the registry topic name follows."""


def cursor_group(settings: Settings, topic: str, criteria: Sequence[str]) -> str:
    """The consumer group remembering replays of registry topic ``topic`` with ``criteria``.

    Args:
        settings: the topic prefix.
        topic: a registry topic such as ``webhook.send``.
        criteria: the selection as typed, such as ``["--key", "K"]``; order
            of options does not matter. Empty: ``streamjobs.dlq-replay.<topic>``.
    """
    base = settings.prefixed(CURSOR_GROUP + topic)
    if not criteria:
        return base
    digest = hashlib.sha256("\0".join(sorted(criteria)).encode()).hexdigest()[:12]
    return f"{base}.{digest}"


def typed_criteria(
    *,
    event_ids: Sequence[str] = (),
    keys: Sequence[str] = (),
    error_classes: Sequence[str] = (),
    error_kind: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> list[str]:
    """A selection as ``dlq replay`` options (``--key=K``), the identity of its cursor.

    The CLI and the job view name the cursor of the same criteria alike, so
    a replay from either continues the other's. Times are as typed (``2h``
    stays ``2h``); ``--limit`` is no criterion.
    """
    typed = [f"--event-id={v}" for v in event_ids] + [f"--key={v}" for v in keys]
    typed += [f"--error-class={v}" for v in error_classes]
    if error_kind is not None:
        typed.append(f"--error-kind={error_kind}")
    typed += [f"--{name}={value}" for name, value in (("since", since), ("until", until)) if value]
    return typed


@dataclass(kw_only=True)
class ReplayCounts:
    """How a replay went; updated as it runs.

    Args:
        total: dead letters this run reads at most (known once reading began).
        read: dead letters read.
        moved: re-sent and confirmed (with ``dry_run``: would be re-sent).
        skipped: left alone by the selection.
        failed: the broker refused; the replay stops at the first one.
        interrupted: Ctrl-C stopped it; what was confirmed is remembered.
    """

    total: int = 0
    read: int = 0
    moved: int = 0
    skipped: int = 0
    failed: int = 0
    interrupted: bool = False


_Entry = tuple[int, "Future[Delivered] | None"]
"""An offset read, with the confirmation of its re-send (None: nothing to wait for)."""


class _Cursor:
    """Per partition, the offsets read and not yet committed, in order."""

    def __init__(self, counts: ReplayCounts) -> None:
        self._counts = counts
        self._open: dict[int, deque[_Entry]] = {}
        self._next: dict[int, int] = {}
        self.blocked = False

    def add(self, partition: int, offset: int, future: Future[Delivered] | None) -> None:
        self._open.setdefault(partition, deque()).append((offset, future))

    @property
    def pending(self) -> int:
        return sum(len(entries) for entries in self._open.values())

    def oldest(self) -> Future[Delivered] | None:
        """The first unconfirmed re-send of any partition, to wait on."""
        for entries in self._open.values():
            for _, future in entries:
                if future is not None and not future.done():
                    return future
        return None

    def settle(self) -> dict[int, int]:
        """Count what the broker confirmed; the next offset of each partition to commit.

        A partition stops at its first failed re-send, which is never passed.
        """
        for partition, entries in self._open.items():
            while entries:
                offset, future = entries[0]
                if future is not None:
                    if not future.done():
                        break
                    if future.exception() is not None:
                        self.blocked = True
                        break
                    self._counts.moved += 1
                entries.popleft()
                self._next[partition] = offset + 1
        return dict(self._next)

    def count_unsettled(self) -> None:
        """Count the re-sends behind a failure (once the producer is flushed): moved or failed."""
        futures = [f for entries in self._open.values() for _, f in entries if f is not None]
        failed = sum(1 for f in futures if not f.done() or f.exception() is not None)
        self._counts.failed += failed
        self._counts.moved += len(futures) - failed


class Replay:
    """Re-send the dead letters of one topic that a selection keeps, remembering how far it got.

    Args:
        settings: brokers, security and the topic prefix.
        topics: the topic set whose DLQ is replayed into its main topic.
        selection: what to re-send (default: everything).
        cursor: the consumer group that remembers the position (``cursor_group``).
        from_start: start at the beginning instead of the cursor (default False).
        dry_run: count what would move; send and commit nothing (default False).
        on_progress: called with the counts now and then while it runs.
    """

    def __init__(
        self,
        settings: Settings,
        topics: TopicSet,
        *,
        cursor: str,
        selection: Selection | None = None,
        from_start: bool = False,
        dry_run: bool = False,
        on_progress: Callable[[ReplayCounts], None] | None = None,
    ) -> None:
        self.counts = ReplayCounts()
        self._settings = settings
        self._main = topics.main
        self._scan = Scan(settings, topics.dlq, selection, cursor=cursor, from_start=from_start)
        self._dry_run = dry_run
        self._on_progress = on_progress or (lambda _: None)
        self._cursor = _Cursor(self.counts)
        self._stop = threading.Event()

    @property
    def scan(self) -> Scan:
        """The scan of the dead-letter topic (its ``limited`` says whether ``--limit`` hit)."""
        return self._scan

    def run(self, on_move: Callable[[DeadLetter], None] | None = None) -> ReplayCounts:
        """Replay; Ctrl-C (or ``stop``) ends it cleanly, remembering what was confirmed.

        Args:
            on_move: called with each dead letter that moves (or would, in a dry run).

        Raises:
            DlqReadError: the broker did not deliver the dead-letter topic in time.
            KafkaException: the broker refused to store the cursor.
        """
        publisher = None if self._dry_run else Publisher(self._settings)
        with self._scan, self._stopping_on_sigint():
            try:
                self._loop(publisher, on_move or (lambda _: None))
            finally:
                self._finish(publisher)
        self.counts.interrupted = self._stop.is_set()
        return self.counts

    def stop(self) -> None:
        """Ask a running replay to stop after the dead letter at hand (thread-safe)."""
        self._stop.set()

    @contextlib.contextmanager
    def _stopping_on_sigint(self) -> Iterator[None]:
        # A KeyboardInterrupt could land between a send and its bookkeeping, and the
        # letter would go out twice; a flag checked between letters cannot.
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.signal(signal.SIGINT, lambda *_: self.stop())
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _loop(self, publisher: Publisher | None, on_move: Callable[[DeadLetter], None]) -> None:
        reported = committed = time.monotonic()
        for letter, matched in self._scan.letters():
            self.counts.total = self._scan.total
            self.counts.read += 1
            future = None
            if not matched:
                self.counts.skipped += 1
            elif publisher is None:
                self.counts.moved += 1
            else:
                future = publisher.publish_raw_nowait(
                    self._main, letter.value, key=letter.key, headers=replay_headers(letter)
                )
            if matched:
                on_move(letter)
            self._cursor.add(letter.partition, letter.offset, future)
            self._bound_in_flight()
            if self._cursor.blocked or self._stop.is_set():
                return
            now = time.monotonic()
            if now - committed >= COMMIT_INTERVAL:
                if self._commit():
                    return
                committed = now
            if now - reported >= PROGRESS_INTERVAL:
                self._on_progress(self.counts)
                reported = now

    def _bound_in_flight(self) -> None:
        while self._cursor.pending >= MAX_IN_FLIGHT:
            self._cursor.settle()
            oldest = self._cursor.oldest()
            if oldest is None or self._cursor.blocked:
                return
            oldest.exception()  # waits for the broker; a failure is counted by settle

    def _commit(self) -> bool:
        """Commit what is settled; True when a re-send failed and the replay must stop."""
        positions = self._cursor.settle()
        if not self._dry_run:
            self._scan.commit(positions)
        return self._cursor.blocked

    def _finish(self, publisher: Publisher | None) -> None:
        if publisher is not None:
            publisher.flush()
        positions = self._cursor.settle()
        if publisher is not None:
            self._scan.commit(positions)
            self._cursor.count_unsettled()
            publisher.close()
        self.counts.total = self._scan.total
        self._on_progress(self.counts)

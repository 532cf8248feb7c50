"""Per-partition bookkeeping of which offsets may be committed.

Messages of one partition finish out of order; the committable position is
the offset of the oldest message still unfinished (or one past the newest
accepted message when all are finished). Only that position is ever
committed, so a crash at any moment re-delivers unfinished work and loses
nothing; the finished offsets above it travel in the commit's metadata
(``completed.py``), so that a crash redoes little finished work.
"""

from __future__ import annotations

from collections import deque

from consumers.runtime.completed import CompletedRanges

PartitionKey = tuple[str, int]
"""``(topic, partition)``."""


class PartitionOffsets:
    """Tracks accepted and finished offsets of one assigned partition.

    A new instance is created on every assignment, so results that arrive for
    an older instance (after a revoke) are recognised and dropped.

    Args:
        topic: the partition's topic.
        partition: the partition number.
        skip: offsets the partition's last commit recorded complete (default none).
    """

    __slots__ = (
        "_abandoned",
        "_finished",
        "_pending",
        "_position",
        "key",
        "next_offset",
        "partition",
        "revoked",
        "skip",
        "topic",
    )

    def __init__(self, topic: str, partition: int, *, skip: CompletedRanges | None = None) -> None:
        self.topic = topic
        self.partition = partition
        self.key: PartitionKey = (topic, partition)
        """``(topic, partition)``."""
        self._pending: deque[int] = deque()
        self._finished: set[int] = set()
        self._abandoned: set[int] = set()
        self.next_offset: int | None = None
        """Where fetching must resume after a pause; None until a message is seen."""
        self.revoked = False
        """Set when the partition is taken away: its queued messages are not started."""
        self.skip = skip or CompletedRanges([])
        """Offsets a previous owner recorded complete: finished without handling."""
        self._position: int | None = None

    @property
    def unfinished(self) -> int:
        """Accepted messages still being worked on or waiting for a handler."""
        return len(self._pending) - len(self._finished) - len(self._abandoned)

    @property
    def position(self) -> int | None:
        """The committable offset; None until a message was accepted."""
        return self._pending[0] if self._pending else self._position

    @property
    def completed(self) -> set[int]:
        """Finished offsets above ``position`` (a copy)."""
        return set(self._finished)

    def accept(self, offset: int) -> None:
        """Record that the message at ``offset`` was handed to a handler."""
        self._pending.append(offset)
        self.next_offset = offset + 1

    def abandon(self, offset: int) -> None:
        """Record that ``offset`` will not be finished here; the position stays before it."""
        self._abandoned.add(offset)

    def finish(self, offset: int) -> int | None:
        """Record that ``offset`` is finished (done, retried or dead-lettered).

        Returns:
            The new committable position when it moved, else None.
        """
        pending = self._pending
        if pending[0] != offset:
            self._finished.add(offset)
            return None
        # The usual case, in order: no set to touch unless something above finished first.
        last = pending.popleft()
        finished = self._finished
        while finished and pending and pending[0] in finished:
            last = pending.popleft()
            finished.remove(last)
        self._position = last + 1
        return pending[0] if pending else self._position

    def __repr__(self) -> str:
        return f"PartitionOffsets({self.topic}[{self.partition}], unfinished={self.unfinished})"

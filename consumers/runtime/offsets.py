"""Per-partition bookkeeping of which offsets may be committed.

Messages of one partition finish out of order; the committable position is
the offset of the oldest message still unfinished (or one past the newest
accepted message when all are finished). Only that position is ever stored,
so a crash at any moment re-delivers unfinished work and loses nothing.
"""

from __future__ import annotations

from collections import deque

PartitionKey = tuple[str, int]
"""``(topic, partition)``."""


class PartitionOffsets:
    """Tracks accepted and finished offsets of one assigned partition.

    A new instance is created on every assignment, so results that arrive for
    an older instance (after a revoke) are recognised and dropped.

    Args:
        topic: the partition's topic.
        partition: the partition number.
    """

    __slots__ = (
        "_abandoned",
        "_finished",
        "_pending",
        "next_offset",
        "partition",
        "revoked",
        "topic",
    )

    def __init__(self, topic: str, partition: int) -> None:
        self.topic = topic
        self.partition = partition
        self._pending: deque[int] = deque()
        self._finished: set[int] = set()
        self._abandoned: set[int] = set()
        self.next_offset: int | None = None
        """Where fetching must resume after a pause; None until a message is seen."""
        self.revoked = False
        """Set when the partition is taken away: its queued messages are not started."""
        """Where fetching must resume after a pause; None until a message is seen."""

    @property
    def key(self) -> PartitionKey:
        """``(topic, partition)``."""
        return (self.topic, self.partition)

    @property
    def unfinished(self) -> int:
        """Accepted messages still being worked on or waiting for a handler."""
        return len(self._pending) - len(self._finished) - len(self._abandoned)

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
        self._finished.add(offset)
        if self._pending[0] != offset:
            return None
        last = offset
        while self._pending and self._pending[0] in self._finished:
            last = self._pending.popleft()
            self._finished.discard(last)
        return self._pending[0] if self._pending else last + 1

    def __repr__(self) -> str:
        return f"PartitionOffsets({self.topic}[{self.partition}], unfinished={self.unfinished})"

"""Delay-topic messages taken in before they are due, held until they are.

Messages of one delay topic are not due in offset order: jitter and a
``Retry-After`` make each due time its own. Pausing a partition at its first
not-due message would hold every later message behind it (for an hour,
behind a ``Retry-After: 3600``). So the worker takes such messages in, keeps
their offsets uncommitted, and parks them here until they are due; only when
the lot is full does it fall back to seeking back and pausing.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable

from confluent_kafka import Message

from consumers.runtime.offsets import PartitionKey, PartitionOffsets


class ParkingLot:
    """Parked messages, earliest due first.

    Args:
        capacity: most messages held at once.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._heap: list[tuple[float, int, PartitionOffsets, Message]] = []
        self._order = itertools.count()  # ties keep arrival order; trackers never compare

    def __len__(self) -> int:
        return len(self._heap)

    @property
    def has_room(self) -> bool:
        """Whether another message fits."""
        return len(self._heap) < self._capacity

    @property
    def next_due(self) -> float | None:
        """When the earliest parked message is due (epoch seconds), or None."""
        return self._heap[0][0] if self._heap else None

    def park(self, due: float, tracker: PartitionOffsets, message: Message) -> None:
        """Hold ``message`` (already accepted by ``tracker``) until ``due``."""
        heapq.heappush(self._heap, (due, next(self._order), tracker, message))

    def release(self, now: float) -> list[tuple[PartitionOffsets, Message]]:
        """Take out every message due at ``now``, earliest first."""
        released: list[tuple[PartitionOffsets, Message]] = []
        while self._heap and self._heap[0][0] <= now:
            _, _, tracker, message = heapq.heappop(self._heap)
            released.append((tracker, message))
        return released

    def evict(self, keys: Iterable[PartitionKey]) -> list[tuple[PartitionOffsets, Message]]:
        """Take out every message of the partitions ``keys`` (revoked, or stopping)."""
        gone = set(keys)
        evicted = [(t, m) for _, _, t, m in self._heap if t.key in gone]
        if evicted:
            self._heap = [entry for entry in self._heap if entry[2].key not in gone]
            heapq.heapify(self._heap)
        return evicted

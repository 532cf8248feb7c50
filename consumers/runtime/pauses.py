"""Why partitions are paused: the reasons, kept apart from librdkafka.

A partition is paused while at least one of these holds:

- ``delayed``: its head message is not due and the parking lot is full; it
  resumes at the due time.
- ``blocked``: writing one of its failed messages onward fails; it resumes
  when the last such message is written.
- ``saturated``: the process has been at its in-flight limit for
  ``SATURATION_PAUSE_AFTER`` seconds; every partition, until there is room.
- ``stopping``: the worker drains before leaving; every partition, for good.

This object only answers "should this partition be paused now"; the poll
loop reconciles librdkafka with it. librdkafka keeps a pause across a
rebalance, so the answer, not librdkafka, is the truth. Time is passed in,
never read, so every transition is tested without a broker.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Literal

from consumers.runtime.offsets import PartitionKey

SATURATION_PAUSE_AFTER = 10.0
"""Seconds at the in-flight limit after which partitions are paused, so that the
loop can keep polling (and stay in the group) without taking new messages."""

PauseReason = Literal["stopping", "saturated", "delayed", "blocked"]
"""Why a partition is paused, in the order ``reason`` reports them."""


class Pauses:
    """The pause reasons of one worker's partitions."""

    def __init__(self) -> None:
        self._delayed: dict[PartitionKey, float] = {}
        # Per partition, how many of its messages are failing to be written onward.
        self._blocked: Counter[PartitionKey] = Counter()
        self._full_since: float | None = None
        self.saturated = False
        """Whether the in-flight limit has been reached for too long."""
        self.stopping = False
        """Whether the worker is draining; set once by ``stop``."""

    def reason(self, key: PartitionKey) -> PauseReason | None:
        """Why ``key`` should be paused now, or None when it should run."""
        if self.stopping:
            return "stopping"
        if self.saturated:
            return "saturated"
        if key in self._delayed:
            return "delayed"
        if key in self._blocked:
            return "blocked"
        return None

    def paused(self, keys: Iterable[PartitionKey]) -> set[PartitionKey]:
        """Those of ``keys`` that should be paused now."""
        return {key for key in keys if self.reason(key) is not None}

    @property
    def next_due(self) -> float | None:
        """The earliest time (epoch seconds) a delayed partition resumes, or None."""
        return min(self._delayed.values(), default=None)

    def delay(self, key: PartitionKey, *, until: float) -> None:
        """``key``'s head message is not due before ``until`` and cannot be parked."""
        self._delayed[key] = until

    def resume_due(self, now: float) -> list[PartitionKey]:
        """End the delays that are over at ``now``; returns their partitions."""
        due = [key for key, until in self._delayed.items() if until <= now]
        for key in due:
            del self._delayed[key]
        return due

    def block(self, key: PartitionKey, blocked: bool) -> None:
        """One of ``key``'s messages failed to be written onward (True), or finally was."""
        # Several messages of one partition may fail to be written onward;
        # the partition stays paused until the last of them recovers.
        self._blocked[key] += 1 if blocked else -1
        if self._blocked[key] <= 0:
            del self._blocked[key]

    def track_capacity(self, room: int, now: float) -> bool:
        """Note how much room is left under the in-flight limit at ``now`` (monotonic).

        Returns:
            Whether ``saturated`` changed, so every partition needs reconciling.
        """
        if room > 0:
            self._full_since = None
            changed, self.saturated = self.saturated, False
            return changed
        if self._full_since is None:
            self._full_since = now
        if not self.saturated and now - self._full_since > SATURATION_PAUSE_AFTER:
            self.saturated = True
            return True
        return False

    def stop(self) -> None:
        """The worker stops: every partition pauses for good."""
        self.stopping = True

    def forget(self, key: PartitionKey) -> None:
        """``key`` was assigned afresh or taken away: its reasons are void."""
        self._delayed.pop(key, None)
        self._blocked.pop(key, None)

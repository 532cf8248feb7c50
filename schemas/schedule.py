"""When the daily cleanup runs: the contract the scheduler publishes by and ``status`` shows.

A pure function of the clock, so the status report can name the next slot
without importing the scheduler.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

CLEANUP_AT = time(3, 0, tzinfo=UTC)
"""The daily slot of the audit-log cleanup (``0 3 * * *``, UTC)."""


def next_cleanup_slot(now: datetime) -> datetime:
    """The first cleanup slot strictly after ``now`` (an aware datetime), in UTC.

    Raises:
        ValueError: ``now`` is naive; a slot in an unknown zone would be a guess.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    utc = now.astimezone(UTC)
    slot = datetime.combine(utc.date(), CLEANUP_AT)
    return slot if slot > utc else slot + timedelta(days=1)

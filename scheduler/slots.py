"""When the daily cleanup is due: pure functions of an aware instant.

A slot is one 03:00 UTC instant (``schemas.schedules.CLEANUP_SLOT``).
Nothing here reads a clock, so every edge (month and year ends, leap days,
the second around 03:00) is a table test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.schedules import CLEANUP_SLOT as SLOT_TIME

SLOT_AT = SLOT_TIME.strftime("%H:%M")
"""The slot's time as the ``schedule`` library's ``at()`` takes it."""

EVENT_ID_PREFIX = "audit.cleanup:"
"""Prefix of every cleanup event id."""

DAY = timedelta(days=1)
"""The distance between two slots."""


def _utc(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("a slot is computed from an aware datetime, not a naive one")
    return now.astimezone(UTC)


def latest_slot(now: datetime) -> datetime:
    """The last slot at or before ``now`` (an aware datetime); returned in UTC."""
    now = _utc(now)
    today = datetime.combine(now.date(), SLOT_TIME, tzinfo=UTC)
    return today if today <= now else today - DAY


def next_slot(now: datetime) -> datetime:
    """The first slot strictly after ``now`` (an aware datetime); returned in UTC."""
    return latest_slot(now) + DAY


def due_slot(now: datetime, *, grace: float) -> datetime | None:
    """The latest slot if at most ``grace`` seconds have passed since it, else None.

    Args:
        now: the current instant (aware).
        grace: seconds after a slot during which it still counts as due
            (``CLEANUP_CATCHUP_GRACE``).
    """
    slot = latest_slot(now)
    return slot if (_utc(now) - slot).total_seconds() <= grace else None


def slot_event_id(slot: datetime) -> str:
    """``audit.cleanup:<YYYY-MM-DD>``: the event id of the daily slot ``slot``."""
    return f"{EVENT_ID_PREFIX}{_utc(slot):%Y-%m-%d}"


def manual_instant(now: datetime) -> datetime:
    """``now`` cut to the minute (UTC): the ``scheduled_for`` of a manual run."""
    return _utc(now).replace(second=0, microsecond=0)


def manual_event_id(now: datetime) -> str:
    """``audit.cleanup:manual:<YYYY-MM-DDTHH:MM>``: one id per minute of manual triggers."""
    return f"{EVENT_ID_PREFIX}manual:{manual_instant(now):%Y-%m-%dT%H:%M}"

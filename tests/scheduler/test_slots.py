"""The slot arithmetic, as a table: 03:00 UTC every day, whatever the calendar does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from scheduler.slots import (
    due_slot,
    latest_slot,
    manual_event_id,
    manual_instant,
    next_slot,
    slot_event_id,
)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


HOUR = 3600.0

CASES = [
    # now                            latest slot            next slot
    (utc(2026, 6, 10, 2, 59, 59), utc(2026, 6, 9, 3), utc(2026, 6, 10, 3)),
    (utc(2026, 6, 10, 3, 0, 0), utc(2026, 6, 10, 3), utc(2026, 6, 11, 3)),
    (utc(2026, 6, 10, 3, 0, 1), utc(2026, 6, 10, 3), utc(2026, 6, 11, 3)),
    (utc(2026, 6, 10, 23, 59, 59), utc(2026, 6, 10, 3), utc(2026, 6, 11, 3)),
    (utc(2026, 4, 30, 12), utc(2026, 4, 30, 3), utc(2026, 5, 1, 3)),
    (utc(2026, 5, 1, 1), utc(2026, 4, 30, 3), utc(2026, 5, 1, 3)),
    (utc(2026, 12, 31, 4), utc(2026, 12, 31, 3), utc(2027, 1, 1, 3)),
    (utc(2027, 1, 1, 2), utc(2026, 12, 31, 3), utc(2027, 1, 1, 3)),
    (utc(2028, 2, 28, 5), utc(2028, 2, 28, 3), utc(2028, 2, 29, 3)),
    (utc(2028, 2, 29, 2), utc(2028, 2, 28, 3), utc(2028, 2, 29, 3)),
    (utc(2028, 2, 29, 3), utc(2028, 2, 29, 3), utc(2028, 3, 1, 3)),
    (utc(2027, 3, 1, 0, 30), utc(2027, 2, 28, 3), utc(2027, 3, 1, 3)),
]


@pytest.mark.parametrize(("now", "latest", "following"), CASES)
def test_latest_and_next_slot(now: datetime, latest: datetime, following: datetime) -> None:
    assert latest_slot(now) == latest
    assert next_slot(now) == following


def test_another_offset_names_the_same_instant() -> None:
    tokyo = timezone(timedelta(hours=9))
    assert latest_slot(datetime(2026, 6, 10, 11, 59, tzinfo=tokyo)) == utc(2026, 6, 9, 3)
    assert latest_slot(datetime(2026, 6, 10, 12, 0, tzinfo=tokyo)) == utc(2026, 6, 10, 3)


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        latest_slot(datetime(2026, 6, 10, 3))


@pytest.mark.parametrize(
    ("now", "grace", "due"),
    [
        (utc(2026, 6, 10, 3), 20 * HOUR, utc(2026, 6, 10, 3)),
        (utc(2026, 6, 10, 23), 20 * HOUR, utc(2026, 6, 10, 3)),
        (utc(2026, 6, 10, 23, 0, 1), 20 * HOUR, None),
        (utc(2026, 6, 11, 2, 59), 20 * HOUR, None),
        (utc(2027, 1, 1, 2), 24 * HOUR, utc(2026, 12, 31, 3)),
        (utc(2028, 2, 29, 10), 20 * HOUR, utc(2028, 2, 29, 3)),
        (utc(2026, 6, 10, 3, 0, 1), 0.0, None),
        (utc(2026, 6, 10, 3), 0.0, utc(2026, 6, 10, 3)),
    ],
)
def test_the_latest_slot_is_due_only_within_the_grace(
    now: datetime, grace: float, due: datetime | None
) -> None:
    assert due_slot(now, grace=grace) == due


@pytest.mark.parametrize(
    ("slot", "event_id"),
    [
        (utc(2026, 6, 10, 3), "audit.cleanup:2026-06-10"),
        (utc(2028, 2, 29, 3), "audit.cleanup:2028-02-29"),
        (datetime(2027, 1, 1, 3, tzinfo=timezone(timedelta(hours=-5))), "audit.cleanup:2027-01-01"),
    ],
)
def test_a_slots_event_id_is_its_utc_date(slot: datetime, event_id: str) -> None:
    assert slot_event_id(slot) == event_id


def test_manual_runs_in_one_minute_share_an_instant_and_an_event_id() -> None:
    first, last = utc(2026, 6, 10, 14, 5, 0), utc(2026, 6, 10, 14, 5, 59, 999_999)
    assert manual_instant(first) == manual_instant(last) == utc(2026, 6, 10, 14, 5)
    assert (
        manual_event_id(first) == manual_event_id(last) == "audit.cleanup:manual:2026-06-10T14:05"
    )
    assert manual_event_id(utc(2026, 6, 10, 14, 6)) != manual_event_id(first)

"""The cleanup slot: 03:00 UTC daily."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from schemas.schedule import next_cleanup_slot


@pytest.mark.parametrize(
    ("now", "slot"),
    [
        (datetime(2026, 3, 1, 2, 59, 59, tzinfo=UTC), datetime(2026, 3, 1, 3, tzinfo=UTC)),
        (datetime(2026, 3, 1, 3, 0, 0, tzinfo=UTC), datetime(2026, 3, 2, 3, tzinfo=UTC)),
        (datetime(2026, 12, 31, 23, 0, tzinfo=UTC), datetime(2027, 1, 1, 3, tzinfo=UTC)),
        # 01:30 at UTC+2 is 23:30 UTC the day before
        (
            datetime(2026, 3, 1, 1, 30, tzinfo=timezone(timedelta(hours=2))),
            datetime(2026, 3, 1, 3, tzinfo=UTC),
        ),
    ],
)
def test_the_next_slot_is_the_first_0300_utc_strictly_after_now(
    now: datetime, slot: datetime
) -> None:
    assert next_cleanup_slot(now) == slot


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_cleanup_slot(datetime(2026, 3, 1, 2))

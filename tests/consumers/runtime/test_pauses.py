"""A partition is paused exactly while one of its reasons holds."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from consumers.runtime.pauses import SATURATION_PAUSE_AFTER, PauseReason, Pauses

A = ("t", 0)
B = ("t", 1)

Step = Callable[[Pauses], object]


@pytest.mark.parametrize(
    ("steps", "expected_a", "expected_b"),
    [
        ([], None, None),
        ([lambda p: p.delay(A, until=100.0)], "delayed", None),
        ([lambda p: p.delay(A, until=100.0), lambda p: p.resume_due(99.9)], "delayed", None),
        ([lambda p: p.delay(A, until=100.0), lambda p: p.resume_due(100.0)], None, None),
        ([lambda p: p.block(A, True)], "blocked", None),
        ([lambda p: p.block(A, True), lambda p: p.block(A, False)], None, None),
        (
            [lambda p: p.block(A, True), lambda p: p.block(A, True), lambda p: p.block(A, False)],
            "blocked",
            None,
        ),
        ([lambda p: p.block(A, True), lambda p: p.forget(A)], None, None),
        ([lambda p: p.delay(A, until=100.0), lambda p: p.forget(A)], None, None),
        ([lambda p: p.track_capacity(0, 0.0)], None, None),
        (
            [
                lambda p: p.track_capacity(0, 0.0),
                lambda p: p.track_capacity(0, SATURATION_PAUSE_AFTER + 0.1),
            ],
            "saturated",
            "saturated",
        ),
        (
            [
                lambda p: p.track_capacity(0, 0.0),
                lambda p: p.track_capacity(0, SATURATION_PAUSE_AFTER + 0.1),
                lambda p: p.track_capacity(1, SATURATION_PAUSE_AFTER + 0.2),
            ],
            None,
            None,
        ),
        (
            [
                lambda p: p.track_capacity(0, 0.0),
                lambda p: p.track_capacity(1, 5.0),
                lambda p: p.track_capacity(0, 6.0),
                lambda p: p.track_capacity(0, SATURATION_PAUSE_AFTER + 1.0),
            ],
            None,
            None,
        ),
        ([lambda p: p.block(B, True), lambda p: p.stop()], "stopping", "stopping"),
        ([lambda p: p.stop(), lambda p: p.forget(A)], "stopping", "stopping"),
    ],
    ids=[
        "nothing",
        "not-due-and-lot-full",
        "still-not-due",
        "due",
        "blocked-write",
        "write-recovered",
        "one-of-two-writes-recovered",
        "blocked-then-reassigned",
        "delayed-then-reassigned",
        "at-the-limit-briefly",
        "at-the-limit-too-long",
        "room-again",
        "room-restarts-the-clock",
        "stopping-wins",
        "stopping-is-for-good",
    ],
)
def test_the_reason_a_partition_is_paused(
    steps: list[Step], expected_a: PauseReason | None, expected_b: PauseReason | None
) -> None:
    pauses = Pauses()
    for step in steps:
        step(pauses)
    assert (pauses.reason(A), pauses.reason(B)) == (expected_a, expected_b)
    assert pauses.paused([A, B]) == {
        key for key, reason in ((A, expected_a), (B, expected_b)) if reason
    }


def test_saturation_reports_each_change_once() -> None:
    pauses = Pauses()
    late = SATURATION_PAUSE_AFTER + 1.0
    changes = [pauses.track_capacity(room, at) for room, at in [(0, 0.0), (0, late), (0, late)]]
    assert changes == [False, True, False]
    assert pauses.track_capacity(5, late) is True
    assert pauses.track_capacity(5, late) is False


def test_the_next_due_time_is_the_earliest_delay() -> None:
    pauses = Pauses()
    assert pauses.next_due is None
    pauses.delay(A, until=30.0)
    pauses.delay(B, until=20.0)
    assert pauses.next_due == 20.0
    assert pauses.resume_due(25.0) == [B]
    assert pauses.next_due == 30.0

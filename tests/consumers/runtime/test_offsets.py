"""The committable position of a partition never passes an unfinished message."""

from __future__ import annotations

from consumers.runtime.offsets import PartitionOffsets


def accepted(*offsets: int) -> PartitionOffsets:
    tracker = PartitionOffsets("t", 0)
    for offset in offsets:
        tracker.accept(offset)
    return tracker


def test_finishing_the_oldest_message_moves_the_position_past_it() -> None:
    tracker = accepted(10, 11, 12)
    assert tracker.finish(10) == 11


def test_a_newer_message_finishing_first_does_not_move_the_position() -> None:
    tracker = accepted(10, 11, 12)
    assert tracker.finish(12) is None
    assert tracker.finish(11) is None
    assert tracker.unfinished == 1


def test_the_position_jumps_over_every_message_already_finished() -> None:
    tracker = accepted(10, 11, 12)
    tracker.finish(12)
    tracker.finish(11)
    assert tracker.finish(10) == 13
    assert tracker.unfinished == 0


def test_gaps_between_offsets_are_allowed() -> None:
    tracker = accepted(3, 7, 20)
    assert tracker.finish(3) == 7
    assert tracker.finish(20) is None
    assert tracker.finish(7) == 21


def test_next_offset_follows_the_newest_accepted_message() -> None:
    tracker = PartitionOffsets("t", 0)
    assert tracker.next_offset is None
    tracker.accept(41)
    assert tracker.next_offset == 42


def test_an_abandoned_message_holds_the_position_but_is_no_longer_unfinished() -> None:
    tracker = accepted(10, 11)
    tracker.abandon(10)
    assert tracker.finish(11) is None
    assert tracker.unfinished == 0

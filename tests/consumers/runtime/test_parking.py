"""Parked messages come out when due, earliest first, and leave with their partition."""

from __future__ import annotations

from typing import cast

from confluent_kafka import Message

from consumers.runtime.offsets import PartitionOffsets
from consumers.runtime.parking import ParkingLot


def message(name: str) -> Message:
    return cast(Message, name)  # the lot only carries messages, never reads them


def test_messages_come_out_when_due_earliest_first() -> None:
    lot = ParkingLot(capacity=10)
    tracker = PartitionOffsets("t", 0)
    lot.park(30.0, tracker, message("late"))
    lot.park(10.0, tracker, message("early"))
    lot.park(20.0, tracker, message("middle"))
    assert lot.next_due == 10.0
    assert lot.release(5.0) == []
    assert [str(m) for _, m in lot.release(20.0)] == ["early", "middle"]
    assert len(lot) == 1


def test_a_full_lot_has_no_room() -> None:
    lot = ParkingLot(capacity=1)
    assert lot.has_room
    lot.park(1.0, PartitionOffsets("t", 0), message("a"))
    assert not lot.has_room


def test_evicting_a_partition_takes_out_only_its_messages() -> None:
    lot = ParkingLot(capacity=10)
    mine, other = PartitionOffsets("t", 0), PartitionOffsets("t", 1)
    lot.park(1.0, mine, message("a"))
    lot.park(2.0, other, message("b"))
    lot.park(3.0, mine, message("c"))
    assert [str(m) for _, m in lot.evict([("t", 0)])] == ["a", "c"]
    assert [str(m) for _, m in lot.release(10.0)] == ["b"]

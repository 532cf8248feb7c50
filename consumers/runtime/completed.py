"""Completed offsets above a committed one, written into the commit's metadata.

Messages of one partition finish out of order, and only the position below
which everything is finished can be committed. What finished above it would
be redone after a crash; so each commit also carries, in its metadata string,
the set of offsets above the position that are complete (as Confluent's
Parallel Consumer does). The next owner of the partition reads it back and
skips those messages instead of handling them again.

The string is ``sj1:<position>:r<runs>`` or ``sj1:<position>:b<bits>``,
whichever is shorter, both URL-safe base64 without padding:

- runs: LEB128 varints, alternating lengths of incomplete and complete
  offsets, starting at ``position + 1`` with an incomplete run (maybe empty);
- bits: bit ``i`` (little-endian within each byte) set when
  ``position + 1 + i`` is complete.

The broker refuses metadata over ``offset.metadata.max.bytes`` (4096 by
default), so an encoding never exceeds ``METADATA_MAX_CHARS``: when the set
does not fit, only what fits from the low end is written. Offsets left out
count as incomplete, and a string that does not parse, or names another
position, reads as the empty set: an offset is never claimed complete that
was not.
"""

from __future__ import annotations

import base64
import binascii
from collections import deque
from collections.abc import Iterable, Iterator

METADATA_MAX_CHARS = 4000
"""Longest metadata string written; under the broker's default limit of 4096 bytes."""

PREFIX = "sj1"
"""Names this format (and its version) at the start of the string."""

RUNS = "r"
"""Tag of the run-length encoding."""

BITS = "b"
"""Tag of the bitset encoding."""


def encode(position: int, completed: Iterable[int], *, max_chars: int = METADATA_MAX_CHARS) -> str:
    """The metadata string for a commit at ``position``.

    Args:
        position: the committed offset (the oldest unfinished message).
        completed: finished offsets above ``position``; any order, others ignored.
        max_chars: longest string returned (default ``METADATA_MAX_CHARS``).

    Returns:
        The shorter of the two encodings, cut to what fits from the low end;
        ``""`` when nothing above ``position`` is complete.
    """
    offsets = sorted({offset for offset in completed if offset > position})
    if not offsets:
        return ""
    header = f"{PREFIX}:{position}:"
    budget = (max_chars - len(header) - 1) * 3 // 4  # raw bytes that fit once in base64
    if budget <= 0:
        return ""
    runs = _runs_bytes(_runs(position, offsets), budget)
    bits = _bits_bytes(position, offsets, budget)
    tag, payload = (RUNS, runs) if len(runs[0]) <= len(bits[0]) else (BITS, bits)
    if runs[1] != bits[1]:  # cut short: keep the one that covers more offsets
        tag, payload = (RUNS, runs) if runs[1] > bits[1] else (BITS, bits)
    if not payload[0]:
        return ""
    return header + tag + base64.urlsafe_b64encode(payload[0]).decode().rstrip("=")


def decode(metadata: str | None, *, position: int) -> CompletedRanges:
    """The complete offsets that ``metadata``, committed at ``position``, records.

    Anything not written by ``encode`` for this very position reads as empty.
    """
    parts = (metadata or "").split(":")
    if len(parts) != 3 or parts[0] != PREFIX or parts[1] != str(position) or not parts[2]:
        return CompletedRanges([])
    tag, text = parts[2][0], parts[2][1:]
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return CompletedRanges([])
    if tag == RUNS:
        lengths = _read_varints(raw)
        return CompletedRanges([] if lengths is None else _ranges_of_runs(position, lengths))
    if tag == BITS:
        return CompletedRanges(_ranges_of_bits(position, raw))
    return CompletedRanges([])


class CompletedRanges:
    """Complete offsets as ascending, disjoint ranges, asked about in ascending order.

    Args:
        ranges: ``range`` objects in ascending order, not overlapping.
    """

    __slots__ = ("_ranges",)

    def __init__(self, ranges: Iterable[range]) -> None:
        self._ranges = deque(r for r in ranges if r)

    def __bool__(self) -> bool:
        return bool(self._ranges)

    def __iter__(self) -> Iterator[int]:
        for r in self._ranges:
            yield from r

    def take(self, offset: int) -> bool:
        """Whether ``offset`` is complete; forgets every range below it.

        Offsets of a partition arrive in ascending order, so a range once
        passed is never asked about again.
        """
        while self._ranges and self._ranges[0].stop <= offset:
            self._ranges.popleft()
        return bool(self._ranges) and offset in self._ranges[0]


def _runs(position: int, offsets: list[int]) -> list[int]:
    """Alternating incomplete/complete run lengths from ``position + 1``."""
    runs: list[int] = []
    expected = position + 1
    start = offsets[0]
    previous = offsets[0] - 1
    for offset in offsets:
        if offset != previous + 1:
            runs += [start - expected, previous + 1 - start]
            expected, start = previous + 1, offset
        previous = offset
    runs += [start - expected, previous + 1 - start]
    return runs


def _runs_bytes(runs: list[int], budget: int) -> tuple[bytes, int]:
    """Varints of whole (incomplete, complete) pairs within ``budget``; the offsets covered."""
    out = bytearray()
    covered = 0
    for gap, length in zip(runs[::2], runs[1::2], strict=True):
        pair = _varint(gap) + _varint(length)
        if len(out) + len(pair) > budget:
            break
        out += pair
        covered += length
    return bytes(out), covered


def _bits_bytes(position: int, offsets: list[int], budget: int) -> tuple[bytes, int]:
    """The bitset of ``offsets``, cut to ``budget`` bytes, and the offsets it covers."""
    size = min((offsets[-1] - position - 1) // 8 + 1, budget)
    bits = bytearray(size)
    covered = 0
    for offset in offsets:
        index = offset - position - 1
        if index >= size * 8:
            break
        bits[index // 8] |= 1 << (index % 8)
        covered += 1
    return bytes(bits).rstrip(b"\0"), covered


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _read_varints(raw: bytes) -> list[int] | None:
    """The varints of ``raw``; None when the last one is cut off."""
    values: list[int] = []
    value = shift = 0
    for byte in raw:
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            values.append(value)
            value = shift = 0
    return None if shift else values


def _ranges_of_runs(position: int, lengths: list[int]) -> list[range]:
    if len(lengths) % 2:
        return []  # pairs are written whole; an odd count was not written by encode
    ranges: list[range] = []
    start = position + 1
    for gap, length in zip(lengths[::2], lengths[1::2], strict=True):
        start += gap
        ranges.append(range(start, start + length))
        start += length
    return ranges


def _ranges_of_bits(position: int, raw: bytes) -> list[range]:
    ranges: list[range] = []
    for index in range(len(raw) * 8):
        if raw[index // 8] >> (index % 8) & 1:
            offset = position + 1 + index
            if ranges and ranges[-1].stop == offset:
                ranges[-1] = range(ranges[-1].start, offset + 1)
            else:
                ranges.append(range(offset, offset + 1))
    return ranges

"""Completed offsets survive a commit's metadata exactly, or cut from the top; never widened."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumers.runtime.completed import METADATA_MAX_CHARS, decode, encode


def round_trip(position: int, completed: set[int], **limits: int) -> set[int]:
    return set(decode(encode(position, completed, **limits), position=position))


@pytest.mark.parametrize(
    ("position", "completed"),
    [
        (0, {1}),
        (0, {2, 3, 4}),
        (100, {101, 102, 150, 151, 152, 999}),
        (7, set(range(8, 5000))),
        (0, set(range(1, 3000, 2))),
        (2**40, {2**40 + 1, 2**40 + 2**20}),
    ],
    ids=["one", "one-run", "sparse", "long-run", "alternating", "large-offsets"],
)
def test_a_set_that_fits_comes_back_exactly(position: int, completed: set[int]) -> None:
    assert round_trip(position, completed) == completed


def test_nothing_complete_is_the_empty_string() -> None:
    assert encode(5, []) == ""
    assert set(decode("", position=5)) == set()
    assert set(decode(None, position=5)) == set()


def test_offsets_at_or_below_the_position_are_left_out() -> None:
    assert round_trip(10, {3, 10, 11}) == {11}


def test_the_shorter_encoding_wins() -> None:
    assert encode(0, set(range(1, 100_000)))[len("sj1:0:")] == "r"
    assert encode(0, set(range(1, 200, 2)))[len("sj1:0:")] == "b"


def test_a_set_too_large_keeps_only_a_low_prefix_and_stays_within_the_limit() -> None:
    # Random-looking gaps defeat both encodings: far more than 4 KB to say them all.
    completed = {n for n in range(1, 200_000) if n * 2654435761 % 7 < 3}
    metadata = encode(0, completed)
    assert len(metadata) <= METADATA_MAX_CHARS
    kept = set(decode(metadata, position=0))
    assert kept < completed
    assert kept == {n for n in completed if n <= max(kept)}


def test_a_tiny_limit_writes_nothing_rather_than_too_much() -> None:
    assert encode(123456789, {123456790}, max_chars=10) == ""


@pytest.mark.parametrize(
    "metadata",
    [
        "sj1:6:rAQE",  # another position
        "something else entirely",
        "sj1:5:x",
        "sj1:5:r!!!",
        "sj1:5:r",
        "sj1:5:rgA",  # a varint cut off
        "sj1:5:rAQEB",  # an odd number of run lengths
    ],
)
def test_metadata_not_written_for_this_position_reads_as_nothing_complete(metadata: str) -> None:
    assert set(decode(metadata, position=5)) == set()


def test_ranges_answer_ascending_questions_and_forget_what_they_passed() -> None:
    ranges = decode(encode(0, {2, 3, 9}), position=0)
    assert [ranges.take(offset) for offset in (1, 2, 3, 4, 9, 10)] == [
        False,
        True,
        True,
        False,
        True,
        False,
    ]
    assert not ranges


@given(
    position=st.integers(min_value=0, max_value=2**62),
    gaps=st.lists(st.integers(min_value=1, max_value=5000), max_size=3000),
    max_chars=st.integers(min_value=0, max_value=METADATA_MAX_CHARS),
)
def test_decoding_never_claims_an_offset_that_was_not_complete(
    position: int, gaps: list[int], max_chars: int
) -> None:
    completed: set[int] = set()
    offset = position
    for gap in gaps:
        offset += gap
        completed.add(offset)
    metadata = encode(position, completed, max_chars=max_chars)
    assert len(metadata) <= max_chars
    kept = set(decode(metadata, position=position))
    assert kept <= completed
    assert kept == {n for n in completed if kept and n <= max(kept)}

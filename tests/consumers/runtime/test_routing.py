"""Failure classes, retry timing and routing headers."""

from __future__ import annotations

import pytest

from consumers.runtime.routing import RetryPolicy, classify, truncate_utf8
from streamjobs.errors import FatalError, RetryableError


def test_a_retryable_error_before_the_last_attempt_is_retryable() -> None:
    failure = classify(RetryableError("busy", http_status=503), attempt=1, max_attempts=3)
    assert (failure.kind, failure.http_status) == ("retryable", 503)


def test_a_retryable_error_on_the_last_attempt_is_exhausted() -> None:
    assert classify(RetryableError("busy"), attempt=3, max_attempts=3).kind == "exhausted"


def test_a_fatal_error_is_fatal_on_any_attempt() -> None:
    assert classify(FatalError("gone"), attempt=1, max_attempts=3).kind == "fatal"


def test_an_unexpected_exception_counts_as_retryable() -> None:
    failure = classify(KeyError("x"), attempt=1, max_attempts=3)
    assert (failure.kind, failure.error_class) == ("retryable", "KeyError")


@pytest.mark.parametrize("attempt", [1, 2])
def test_the_next_attempt_is_never_early_and_at_most_jitter_late(attempt: int) -> None:
    policy = RetryPolicy(delays=(30.0, 300.0), jitter=0.2)
    delay = policy.delays[attempt - 1]
    for _ in range(200):
        at = policy.not_before_ms(failed_attempt=attempt, retry_after=None, now_ms=0)
        assert delay * 1000 <= at <= delay * 1200


def test_retry_after_raises_the_delay_within_the_clamp() -> None:
    policy = RetryPolicy(delays=(1.0,), jitter=0.0, retry_after_max=60.0)
    assert policy.not_before_ms(failed_attempt=1, retry_after=10.0, now_ms=0) == 10_000
    assert policy.not_before_ms(failed_attempt=1, retry_after=9999.0, now_ms=0) == 60_000
    assert policy.not_before_ms(failed_attempt=1, retry_after=0.1, now_ms=0) == 1_000


def test_truncation_never_splits_a_character() -> None:
    text = "é" * 600  # two bytes each
    cut = truncate_utf8(text, 1023)
    assert len(cut.encode()) == 1022
    assert cut == "é" * 511

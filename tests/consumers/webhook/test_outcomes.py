"""How answers are classified, and how ``Retry-After`` is read."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from consumers.webhook.client import Reply
from consumers.webhook.outcomes import outcome_of_reply, parse_retry_after

NOW = datetime(2015, 10, 21, 7, 27, tzinfo=UTC)


def classify(status: int, retry_after: str | None = None) -> tuple[str, str | None]:
    outcome = outcome_of_reply(
        Reply(status=status, retry_after=retry_after, excerpt=""), retry_after_max=3600, now=NOW
    )
    return outcome.kind, outcome.code


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_2xx_is_success(status: int) -> None:
    assert classify(status) == ("success", None)


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504, 599])
def test_408_425_429_and_5xx_are_retryable(status: int) -> None:
    assert classify(status) == ("retryable", "E_HTTP")


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_3xx_is_fatal_e_redirect(status: int) -> None:
    assert classify(status) == ("fatal", "E_REDIRECT")


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 410, 413, 422])
def test_other_4xx_is_fatal_e_http(status: int) -> None:
    assert classify(status) == ("fatal", "E_HTTP")


def test_retry_after_in_seconds() -> None:
    assert parse_retry_after("120", now=NOW, limit=3600) == 120.0


def test_retry_after_as_http_date_counts_from_now() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=NOW, limit=3600) == 60.0


def test_retry_after_in_the_past_means_no_wait() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now=NOW, limit=3600) == 0.0


def test_retry_after_is_clamped_to_the_limit() -> None:
    assert parse_retry_after("86400", now=NOW, limit=600) == 600.0


@pytest.mark.parametrize(
    "value",
    [None, "", "soon", "-5", "1.5", "²", "٣", "9" * 5000, "Wed, 99 Foo 99999999 99:99:99 GMT"],
)
def test_missing_or_malformed_retry_after_is_ignored(value: str | None) -> None:
    assert parse_retry_after(value, now=NOW, limit=3600) is None

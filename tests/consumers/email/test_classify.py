"""Resend's answers, classified: retry, give up, wait in the handler, or pause the job."""

from __future__ import annotations

import pytest
from resend.exceptions import NoContentError, ResendError

from consumers.email import codes
from consumers.email.classify import DEFAULT_RATE_WAIT, classify, scrub


def answer(status: int, name: str, message: str = "m", **headers: str) -> ResendError:
    return ResendError(
        code=status, error_type=name, message=message, suggested_action="", headers=headers
    )


@pytest.mark.parametrize(
    ("status", "name", "kind", "code"),
    [
        (422, "validation_error", "fatal", codes.E_RESEND_VALIDATION),
        (400, "validation_error", "fatal", codes.E_RESEND_VALIDATION),
        (403, "validation_error", "fatal", codes.E_RESEND_VALIDATION),  # unverified domain
        (409, "invalid_idempotent_request", "fatal", codes.E_RESEND_IDEMPOTENCY),
        (409, "concurrent_idempotent_requests", "retryable", codes.E_RESEND_CONCURRENT),
        (500, "application_error", "retryable", codes.E_RESEND_SERVER),
        (503, "internal_server_error", "retryable", codes.E_RESEND_SERVER),
        (429, "rate_limit_exceeded", "wait", codes.E_RESEND_RATE_LIMIT),
        (429, "daily_quota_exceeded", "pause", codes.E_RESEND_QUOTA),
        (429, "monthly_quota_exceeded", "pause", codes.E_RESEND_QUOTA),
        (401, "missing_api_key", "pause", codes.E_RESEND_API_KEY),
        (401, "restricted_api_key", "pause", codes.E_RESEND_API_KEY),
        (403, "invalid_api_key", "pause", codes.E_RESEND_API_KEY),
    ],
)
def test_each_resend_answer_has_its_verdict(status: int, name: str, kind: str, code: str) -> None:
    verdict = classify(answer(status, name))
    assert (verdict.kind, verdict.code, verdict.http_status) == (kind, code, status)


def test_quota_pauses_name_their_reset() -> None:
    assert classify(answer(429, "daily_quota_exceeded")).pause == "daily_quota"
    assert classify(answer(429, "monthly_quota_exceeded")).pause == "monthly_quota"
    assert classify(answer(403, "invalid_api_key")).pause == "api_key"


def test_a_rate_429_waits_its_retry_after_or_a_second_without_one() -> None:
    assert classify(answer(429, "rate_limit_exceeded", **{"retry-after": "2"})).retry_after == 2.0
    assert classify(answer(429, "rate_limit_exceeded")).retry_after == DEFAULT_RATE_WAIT
    garbage = answer(429, "rate_limit_exceeded", **{"retry-after": "soon"})
    assert classify(garbage).retry_after == DEFAULT_RATE_WAIT


def test_no_answer_is_retryable_as_a_connection_failure() -> None:
    verdict = classify(answer(500, "HttpClientError", "Cannot connect to host x"))
    assert (verdict.kind, verdict.code, verdict.http_status) == (
        "retryable",
        codes.E_RESEND_CONNECT,
        None,
    )
    assert classify(NoContentError()).kind == "retryable"


def test_messages_never_carry_an_address() -> None:
    verdict = classify(answer(422, "validation_error", "Invalid `to`: ada@example.com refused"))
    assert "ada@example.com" not in verdict.message
    assert "<address>" in verdict.message
    assert scrub("x" * 1000) == "x" * 300

"""What a Resend answer means for the email: send again, give up, wait, or pause the job.

Messages carry Resend's status, error name and message with every address
scrubbed, so they may go to logs, Sentry and DLQ headers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from resend.exceptions import NoContentError, ResendError

from consumers.email import codes

VerdictKind = Literal["retryable", "fatal", "wait", "pause"]
"""``wait``: a rate 429, try again after ``retry_after`` without spending an attempt;
``pause``: nothing can be sent until a quota resets or the API key changes."""

PauseReason = Literal["daily_quota", "monthly_quota", "api_key"]
"""Why sending stops: the daily quota resets at UTC midnight; the others are probed."""

MESSAGE_MAX = 300
"""Most characters of Resend's message kept in a verdict."""

DEFAULT_RATE_WAIT = 1.0
"""Seconds to wait after a rate 429 that names no ``retry-after``."""

CONCURRENT_RETRY_AFTER = 1.0
"""Seconds before retrying a key Resend still has in progress."""

QUOTAS: dict[str, PauseReason] = {
    "daily_quota_exceeded": "daily_quota",
    "monthly_quota_exceeded": "monthly_quota",
}
"""429 names that stop sending until a quota resets."""

_ADDRESS = re.compile(r"[^\s<>\"'`,;:()]+@[^\s<>\"'`,;:()]+")


@dataclass(frozen=True, kw_only=True, slots=True)
class Verdict:
    """A failed request, classified.

    Args:
        kind: see ``VerdictKind``.
        code: an error code of ``consumers.email.codes``.
        message: for people; addresses scrubbed.
        http_status: Resend's status, when it answered.
        retry_after: seconds to wait first (``wait``, some ``retryable``).
        pause: why the job pauses (``pause`` only).
    """

    kind: VerdictKind
    code: str
    message: str
    http_status: int | None = None
    retry_after: float | None = None
    pause: PauseReason | None = None


def scrub(text: str) -> str:
    """``text`` with every email address replaced by ``<address>``, cut to ``MESSAGE_MAX``."""
    return _ADDRESS.sub("<address>", text)[:MESSAGE_MAX]


def classify(error: ResendError | NoContentError) -> Verdict:
    """The verdict on an error the Resend SDK raised."""
    if isinstance(error, NoContentError):
        return Verdict(kind="retryable", code=codes.E_RESEND_SERVER, message="Resend sent no body")
    if error.error_type == "HttpClientError":  # the SDK's name for "no answer"
        return Verdict(
            kind="retryable",
            code=codes.E_RESEND_CONNECT,
            message=f"no answer from Resend: {scrub(error.message)}",
        )
    status = _status(error.code)
    name = error.error_type
    message = f"Resend {status} {name}: {scrub(error.message)}"
    if status == 429:
        reason = QUOTAS.get(name)
        if reason is not None:
            return Verdict(
                kind="pause",
                code=codes.E_RESEND_QUOTA,
                message=message,
                http_status=status,
                pause=reason,
            )
        return Verdict(
            kind="wait",
            code=codes.E_RESEND_RATE_LIMIT,
            message=message,
            http_status=status,
            retry_after=retry_after_of(error.headers),
        )
    if status == 401 or (status == 403 and name == "invalid_api_key"):
        return Verdict(
            kind="pause",
            code=codes.E_RESEND_API_KEY,
            message=message,
            http_status=status,
            pause="api_key",
        )
    if status == 409 and name == "concurrent_idempotent_requests":
        return Verdict(
            kind="retryable",
            code=codes.E_RESEND_CONCURRENT,
            message=message,
            http_status=status,
            retry_after=CONCURRENT_RETRY_AFTER,
        )
    if status >= 500:
        return Verdict(
            kind="retryable", code=codes.E_RESEND_SERVER, message=message, http_status=status
        )
    code = codes.E_RESEND_IDEMPOTENCY if status == 409 else codes.E_RESEND_VALIDATION
    return Verdict(kind="fatal", code=code, message=message, http_status=status)


def retry_after_of(headers: dict[str, str]) -> float:
    """Seconds in a ``retry-after`` header (delay-seconds); ``DEFAULT_RATE_WAIT`` without one."""
    value = {name.lower(): text for name, text in headers.items()}.get("retry-after")
    try:
        seconds = float(value) if value is not None else DEFAULT_RATE_WAIT
    except ValueError:
        return DEFAULT_RATE_WAIT
    return seconds if seconds >= 0 else DEFAULT_RATE_WAIT


def _status(code: str | int) -> int:
    try:
        return int(code)
    except (TypeError, ValueError):
        return 500

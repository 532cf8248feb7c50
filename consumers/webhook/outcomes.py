"""What one delivery attempt came to: success, retryable or fatal, and why.

Messages name the failure (status, error class, host) and never carry a
secret, a payload, a URL path or the receiver's body; the body goes to the
delivery row's excerpt only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Literal

from consumers.webhook.client import (
    ConnectFailedError,
    HostNotFoundError,
    InvalidURLError,
    Reply,
    WebhookClientError,
)
from consumers.webhook.codes import (
    E_CONNECT,
    E_DNS,
    E_HTTP,
    E_INTERNAL,
    E_INVALID_URL,
    E_REDIRECT,
    E_TIMEOUT,
)
from streamjobs.errors import FatalError, JobError, RetryableError

Kind = Literal["pending", "success", "retryable", "fatal"]
"""The ``outcome`` column of ``webhook_deliveries``."""

PENDING: Kind = "pending"
"""The outcome of an attempt whose POST may be under way: in flight, or cut short by a
crash (the receiver may or may not have had it) until the attempt is redone."""

RETRYABLE_STATUSES = frozenset({408, 425, 429})
"""Statuses below 500 that ask for another try."""

RETRY_AFTER_MAX_CHARS = 64
"""Longest ``Retry-After`` value read; a longer one is ignored as garbage."""

GONE = 410
"""The receiver says the endpoint is gone for good: disable it."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Outcome:
    """The result of one attempt, as logged and as raised.

    Args:
        kind: ``success``, ``retryable`` or ``fatal``.
        http_status: the receiver's status, when it answered.
        code: error code such as ``E_TIMEOUT``; None on success.
        message: what went wrong, for people; None on success.
        retry_after: seconds the receiver asked us to wait (already clamped).
        excerpt: the start of the receiver's body, when it answered.
        error: the ``FatalError`` it was made of, raised again as it is, so that
            the DLQ's ``x-error-class`` names its class (``WebhookDisabledError``).
    """

    kind: Kind
    http_status: int | None = None
    code: str | None = None
    message: str | None = None
    retry_after: float | None = None
    excerpt: str | None = None
    error: FatalError | None = None

    def raise_if_failed(self) -> None:
        """Raise the ``RetryableError`` or ``FatalError`` this outcome stands for."""
        message = self.message or "delivery failed"
        if self.kind == "retryable":
            raise RetryableError(
                message, code=self.code, http_status=self.http_status, retry_after=self.retry_after
            )
        if self.kind == "fatal":
            raise self.error or FatalError(message, code=self.code, http_status=self.http_status)


def outcome_of_reply(reply: Reply, *, retry_after_max: float, now: datetime) -> Outcome:
    """Classify an answer: 2xx success; 408, 425, 429, 5xx retryable; others fatal.

    Args:
        reply: the answer.
        retry_after_max: upper bound of a honoured ``Retry-After``, seconds.
        now: the current time, to turn an HTTP-date ``Retry-After`` into seconds.
    """
    status = reply.status
    if 200 <= status < 300:
        return Outcome(kind="success", http_status=status, excerpt=reply.excerpt)
    text = status_text(status)
    failure = Outcome(
        kind="fatal", http_status=status, code=E_HTTP, message=text, excerpt=reply.excerpt
    )
    if 300 <= status < 400:
        return replace(failure, code=E_REDIRECT, message=f"{text}: redirects are never followed")
    if status in RETRYABLE_STATUSES or status >= 500:
        wait = parse_retry_after(reply.retry_after, now=now, limit=retry_after_max)
        return replace(failure, kind="retryable", retry_after=wait)
    if status == GONE:
        return replace(failure, message=f"{text}: endpoint disabled")
    return failure


def status_text(status: int) -> str:
    """``HTTP 503 Service Unavailable``; the receiver's own reason phrase is not trusted."""
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def parse_retry_after(value: str | None, *, now: datetime, limit: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header, clamped to ``[0, limit]``.

    Args:
        value: delay-seconds (``120``) or an HTTP-date; None or garbage give None.
        now: the current time (aware), for an HTTP-date.
        limit: the most seconds honoured (``RETRY_AFTER_MAX``).
    """
    if value is None:
        return None
    text = value.strip()
    if len(text) > RETRY_AFTER_MAX_CHARS:
        return None
    # ASCII only: str.isdigit() takes "²", which int() and float() refuse.
    if text.isascii() and text.isdigit():
        seconds = float(text)
    else:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        # An HTTP-date is always GMT; "-0000" parses as naive.
        seconds = (when.replace(tzinfo=when.tzinfo or UTC) - now).total_seconds()
    return min(max(seconds, 0.0), limit)


def outcome_of_error(error: Exception) -> Outcome:
    """Classify a failure before or instead of an answer.

    ``JobError`` keeps its own class and code; timeouts are ``E_TIMEOUT``,
    failed lookups ``E_DNS``, other connection failures ``E_CONNECT`` (all
    retryable); a malformed URL is fatal ``E_INVALID_URL``; anything else is
    a retryable ``E_INTERNAL`` named by its class only.
    """
    if isinstance(error, JobError):
        return _outcome_of_job_error(error)
    if isinstance(error, InvalidURLError):
        return Outcome(kind="fatal", code=E_INVALID_URL, message=str(error))
    if isinstance(error, TimeoutError):
        return Outcome(kind="retryable", code=E_TIMEOUT, message=f"timed out ({_name(error)})")
    if isinstance(error, HostNotFoundError):
        return Outcome(kind="retryable", code=E_DNS, message=str(error))
    if isinstance(error, ConnectFailedError):
        return Outcome(kind="retryable", code=E_CONNECT, message=str(error))
    if isinstance(error, WebhookClientError | OSError):
        return Outcome(
            kind="retryable", code=E_CONNECT, message=f"connection failed ({_name(error)})"
        )
    return Outcome(kind="retryable", code=E_INTERNAL, message=f"unexpected {_name(error)}")


def _outcome_of_job_error(error: JobError) -> Outcome:
    if isinstance(error, FatalError):
        return Outcome(
            kind="fatal",
            code=error.code,
            message=error.message,
            http_status=error.http_status,
            error=error,
        )
    retry_after = error.retry_after if isinstance(error, RetryableError) else None
    return Outcome(
        kind="retryable",
        code=error.code,
        message=error.message,
        http_status=error.http_status,
        retry_after=retry_after,
    )


def _name(error: BaseException) -> str:
    return type(error).__name__

"""From events to Resend's request parameters: one email, or a batch checked email by email.

A batch is checked before any request: each email alone against the
``email.send`` model, without ``attachments`` or ``scheduled_at``, and with a
sender. An email that fails is rejected with its index and the fields at
fault (never their values); the others go out. Chunks are numbered from 1 by
position in the event, so a retry sees the same chunks.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, cast

import resend
from pydantic import ValidationError

from consumers.email import codes
from schemas.events import EmailSend, describe_validation
from streamjobs.errors import FatalError

NOT_IN_BATCH = ("attachments", "scheduled_at")
"""Fields Resend refuses in a batch."""

IDEMPOTENCY_KEY_MAX = 256
"""Longest idempotency key Resend takes; longer ones are replaced by a digest."""

NO_SENDER = "from: no sender: the email has no `from` and EMAIL_FROM is unset"
"""Why an email without a sender is refused."""


def resend_params(email: EmailSend, *, default_sender: str | None) -> resend.Emails.SendParams:
    """Resend's parameters for ``email``; ``from`` defaults to ``default_sender``.

    Raises:
        FatalError: there is no sender (``E_NO_SENDER``).
    """
    params = email.model_dump(by_alias=True, exclude_none=True, mode="json")
    params.setdefault("from", default_sender)
    if params["from"] is None:
        raise FatalError(NO_SENDER, code=codes.E_NO_SENDER)
    return cast("resend.Emails.SendParams", params)


def recipient_count(email: EmailSend) -> int:
    """Addresses in ``to``, ``cc`` and ``bcc``."""
    return sum(len(field or ()) for field in (email.to, email.cc, email.bcc))


def idempotency_key(event_id: str, chunk: int | None = None) -> str:
    """``<event-id>`` or ``<event-id>:<chunk>``; a SHA-256 digest when longer than 256."""
    key = event_id if chunk is None else f"{event_id}:{chunk}"
    if len(key) > IDEMPOTENCY_KEY_MAX:
        return "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


@dataclass(frozen=True, kw_only=True, slots=True)
class Checked:
    """One email of a batch after the check.

    Args:
        index: its position in the event, from 0.
        params: Resend's parameters; None when rejected.
        recipients: its address count (0 when rejected).
        rejection: why it was rejected, naming fields; None when valid.
    """

    index: int
    params: resend.Emails.SendParams | None = None
    recipients: int = 0
    rejection: str | None = None

    def describe(self) -> str:
        """``#index rejection``, as stored and dead-lettered."""
        return f"#{self.index} {self.rejection}"


def check_email(index: int, item: dict[str, Any], *, default_sender: str | None) -> Checked:
    """Check the email at ``index`` of a batch; see ``Checked``."""
    for name in NOT_IN_BATCH:
        if name in item:
            return Checked(index=index, rejection=f"{name}: Resend refuses it in a batch")
    try:
        email = EmailSend.model_validate(item)
        params = resend_params(email, default_sender=default_sender)
    except ValidationError as exc:
        return Checked(index=index, rejection=describe_validation(exc))
    except FatalError as exc:
        return Checked(index=index, rejection=exc.message)
    return Checked(index=index, params=params, recipients=recipient_count(email))


def chunked(
    emails: list[dict[str, Any]], *, size: int, default_sender: str | None
) -> list[list[Checked]]:
    """``emails`` checked and cut into chunks of ``size``; chunk ``n`` is item ``n - 1``."""
    checked = [
        check_email(index, item, default_sender=default_sender) for index, item in enumerate(emails)
    ]
    return [checked[start : start + size] for start in range(0, len(checked), size)]

"""Event models: the JSON payload of each topic.

Producers in other languages use the JSON Schema exported from these models
(``schemas/json/``); ``python -m schemas.export`` rewrites those files.
Unknown fields are refused so that a misspelt field fails loudly.
"""

from __future__ import annotations

import math
import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

EMAIL_BATCH_MAX = 1000
"""Most emails one ``email.send-batch`` event may carry; it is sent in chunks."""

_MAILBOX = r"[^\s@<>(),;:\"\[\]]+@[^\s@<>(),;:\"\[\]]+\.[^\s@<>(),;:\"\[\]]+"

ADDRESS_PATTERN = rf"^(?:{_MAILBOX}|[^<>]*<{_MAILBOX}>)$"
"""An address, bare or after a display name; the domain needs a dot."""

_ADDRESS = re.compile(ADDRESS_PATTERN)

EMAIL_RECIPIENTS_MAX = 50
"""Most addresses in one of ``to``, ``cc``, ``bcc`` (Resend's limit)."""


def _check_address(value: str) -> str:
    if not _ADDRESS.match(value):
        raise ValueError("not an email address such as ada@example.com or Ada <ada@example.com>")
    return value


def _listed(value: object) -> object:
    return [value] if isinstance(value, str) else value


Address = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=320),
    AfterValidator(_check_address),
    Field(json_schema_extra={"pattern": ADDRESS_PATTERN}),
]
"""An email address, optionally with a display name: ``Ada <ada@example.com>``."""

Addresses = Annotated[
    list[Address],
    BeforeValidator(_listed),
    Field(min_length=1, max_length=EMAIL_RECIPIENTS_MAX),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": ADDRESS_PATTERN, "maxLength": 320},
                {
                    "type": "array",
                    "items": {"type": "string", "pattern": ADDRESS_PATTERN, "maxLength": 320},
                    "minItems": 1,
                    "maxItems": EMAIL_RECIPIENTS_MAX,
                },
            ]
        }
    ),
]
"""One address or a list of 1 to 50; read as a list."""
PAYLOAD_MAX_DEPTH = 64
"""Deepest nesting of objects and arrays in a webhook payload."""

PAYLOAD_MAX_INTEGER = 2**64
"""Integers in a payload stay below this magnitude, so every JSON parser reads them."""

MAX_VALIDATION_ERRORS = 5
"""Validation problems listed in one error message; the rest are counted."""


class Event(BaseModel):
    """Base of every event model: strict about unknown fields, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class WebhookSend(Event):
    """``webhook.send``: deliver ``payload`` to one registered endpoint."""

    webhook_id: uuid.UUID = Field(description="id of a row in the webhooks table")
    event_type: str = Field(
        min_length=1, max_length=200, description="becomes the body's `type`, e.g. invoice.paid"
    )
    payload: dict[str, Any] = Field(description="becomes the body's `data`")

    @field_validator("payload")
    @classmethod
    def _portable_json(cls, payload: dict[str, Any]) -> dict[str, Any]:
        check_portable_json(payload, path="payload")
        return payload


class EmailTag(Event):
    """A Resend tag: ASCII letters, digits, ``_`` and ``-``."""

    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,256}$")]
    value: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,256}$")]


class EmailSend(Event):
    """``email.send``: one email, sent through Resend."""

    model_config = ConfigDict(populate_by_name=True)

    to: Addresses
    subject: str = Field(min_length=1, max_length=998)
    html: str | None = None
    text: str | None = None
    sender: Address | None = Field(
        None, alias="from", description="defaults to EMAIL_FROM of the consumer"
    )
    cc: Addresses | None = None
    bcc: Addresses | None = None
    reply_to: Addresses | None = None
    tags: list[EmailTag] | None = None
    headers: dict[str, str] | None = None

    @model_validator(mode="after")
    def _has_body(self) -> EmailSend:
        if self.html is None and self.text is None:
            raise ValueError("an email needs `html` or `text`")
        return self


class EmailSendBatch(Event):
    """``email.send-batch``: many emails, sent in chunks through Resend's batch API.

    Each email is an ``email.send`` object without ``attachments`` or
    ``scheduled_at`` (Resend refuses both in a batch). The job validates each
    one on its own, so that one invalid email is rejected alone and never
    blocks the others.
    """

    emails: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=EMAIL_BATCH_MAX,
        description="email.send objects, each validated on its own by the consumer",
    )


class AuditCleanup(Event):
    """``audit.cleanup``: delete audit and system logs older than the retention."""

    scheduled_for: datetime = Field(description="the run this event stands for (ISO 8601)")
    retention_days: int | None = Field(None, ge=1, le=3650, description="default 90")
    trigger: Literal["schedule", "manual"] = "schedule"


def check_portable_json(value: Any, *, path: str) -> None:
    """Refuse what standard JSON cannot carry or other parsers refuse.

    NaN and infinities (not JSON tokens), integers of ``PAYLOAD_MAX_INTEGER``
    or more, nesting deeper than ``PAYLOAD_MAX_DEPTH`` and text that is not
    Unicode (a lone surrogate).

    Raises:
        ValueError: names the first offending place, such as ``payload.items.3``.
    """
    problem = _first_problem(value, depth=0)
    if problem is not None:
        where, reason = problem
        raise ValueError(f"{path}{where}: {reason}")


def _first_problem(value: Any, *, depth: int) -> tuple[str, str] | None:
    """Where under ``value`` (``.items.3``, `` (a key)``) the first problem is, and what.

    The place is spelled out only once a problem is found: every event is
    checked, and a path built for each value cost more than the check.
    """
    if isinstance(value, str):
        reason = _text_problem(value)
        return None if reason is None else ("", reason)
    if isinstance(value, float):
        return None if math.isfinite(value) else ("", f"{value} is not a JSON number")
    if isinstance(value, int):
        if abs(value) < PAYLOAD_MAX_INTEGER:
            return None
        return "", f"integer of {len(str(abs(value)))} digits exceeds 64 bits"
    if not isinstance(value, dict | list):
        return None
    if depth >= PAYLOAD_MAX_DEPTH:
        return "", f"nested deeper than {PAYLOAD_MAX_DEPTH} levels"
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        if isinstance(key, str) and (reason := _text_problem(key)) is not None:
            return " (a key)", reason
        if (problem := _first_problem(item, depth=depth + 1)) is not None:
            return f".{key}{problem[0]}", problem[1]
    return None


def _text_problem(text: str) -> str | None:
    if text.isascii():
        return None
    try:
        text.encode()
    except UnicodeEncodeError as exc:
        return f"lone surrogate at character {exc.start}"
    return None


def describe_validation(exc: ValidationError) -> str:
    """``field: problem; field: problem`` without the offending input values."""
    problems = [
        f"{'.'.join(map(str, error['loc'])) or '(root)'}: {error['msg']}"
        for error in exc.errors(include_input=False, include_url=False)
    ]
    shown = "; ".join(problems[:MAX_VALIDATION_ERRORS])
    hidden = len(problems) - MAX_VALIDATION_ERRORS
    return f"{shown}; and {hidden} more" if hidden > 0 else shown

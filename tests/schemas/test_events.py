"""Event models accept what producers send and refuse what they must not."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas.events import AuditCleanup, EmailSend, EmailSendBatch, WebhookSend

WEBHOOK_ID = "6f1c1a52-3c39-4a0e-9d9b-2f1c8f0f6c11"


def test_a_webhook_event_needs_a_uuid_webhook_id() -> None:
    event = WebhookSend.model_validate(
        {"webhook_id": WEBHOOK_ID, "event_type": "invoice.paid", "payload": {"n": 1}}
    )
    assert str(event.webhook_id) == WEBHOOK_ID
    with pytest.raises(ValidationError):
        WebhookSend.model_validate({"webhook_id": "7", "event_type": "x", "payload": {}})


def test_unknown_fields_are_refused_so_typos_fail_loudly() -> None:
    with pytest.raises(ValidationError, match="webhookId"):
        WebhookSend.model_validate({"webhookId": WEBHOOK_ID, "event_type": "x", "payload": {}})


def test_an_email_needs_html_or_text() -> None:
    with pytest.raises(ValidationError, match="html"):
        EmailSend.model_validate({"to": "ada@example.com", "subject": "hi"})


def test_an_email_takes_from_as_its_sender() -> None:
    email = EmailSend.model_validate(
        {"to": ["ada@example.com"], "subject": "hi", "text": "x", "from": "Ops <ops@x.io>"}
    )
    assert email.sender == "Ops <ops@x.io>"


def test_a_batch_holds_at_least_one_email() -> None:
    with pytest.raises(ValidationError):
        EmailSendBatch.model_validate({"emails": []})


def test_a_cleanup_event_defaults_to_the_schedule_trigger() -> None:
    event = AuditCleanup.model_validate({"scheduled_for": "2026-11-28T03:00:00Z"})
    assert (event.trigger, event.retention_days) == ("schedule", None)

"""The batch handler on its own (no broker): chunk outcomes, replays, refusals."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Engine

from consumers.email.batch import open_batch_handler
from consumers.job import Context
from schemas.events import EmailSendBatch
from streamjobs.errors import FatalError
from streamjobs.settings import Settings
from tests.consumers.email.conftest import email, rows
from tests.consumers.email.fake_resend import FakeResend, Fault


def handle(settings: Settings, event_id: str, emails: list[dict[str, object]]) -> None:
    """Run the batch handler once on ``emails`` as event ``event_id``."""
    context = Context(
        event_id=event_id, attempt=1, max_attempts=3, topic="t", partition=0, offset=0
    )

    async def main() -> None:
        async with open_batch_handler(settings, concurrency=1) as handler:
            await handler(EmailSendBatch(emails=emails), context)

    asyncio.run(main())


def test_a_replay_of_a_sent_batch_sends_nothing(
    db: Engine, email_settings: Settings, fake: FakeResend
) -> None:
    emails = [email(n) for n in range(15)]
    handle(email_settings, "again", emails)
    handle(email_settings, "again", emails)
    assert len(fake.arrivals) == 2
    assert fake.sent_subjects() == {f"email {n}": 1 for n in range(15)}


def test_a_chunk_resend_refuses_whole_is_fatal_and_later_chunks_wait_for_a_replay(
    db: Engine, email_settings: Settings, fake: FakeResend
) -> None:
    fake.faults.append(
        Fault(403, "validation_error", "The acme.example domain is not verified.", times=1)
    )
    emails = [email(n) for n in range(15)]
    with pytest.raises(FatalError, match="403 validation_error"):
        handle(email_settings, "unverified", emails)
    assert rows(db, "unverified")[0][:2] == (1, "failed")
    assert len(fake.arrivals) == 1
    handle(email_settings, "unverified", emails)  # replayed once the domain is verified
    assert fake.sent_subjects() == {f"email {n}": 1 for n in range(15)}


def test_an_idempotency_key_reused_with_another_payload_is_fatal(
    db: Engine, email_settings: Settings, fake: FakeResend
) -> None:
    handle(email_settings, "reused", [email(1)])
    with db.begin() as connection:  # forget the record, as a wiped table would
        connection.exec_driver_sql("DELETE FROM email_deliveries")
    with pytest.raises(FatalError, match="invalid_idempotent_request"):
        handle(email_settings, "reused", [email(2)])
    assert fake.sent_subjects() == {"email 1": 1}


def test_an_email_without_any_sender_is_rejected_by_name(
    db: Engine, email_settings: Settings, fake: FakeResend
) -> None:
    settings = email_settings.model_copy(update={"email_from": None})
    with pytest.raises(FatalError, match="#1 from: no sender"):
        handle(settings, "no-from", [email(0, **{"from": "Ops <ops@acme.example>"}), email(1)])
    assert fake.sent_subjects() == {"email 0": 1}

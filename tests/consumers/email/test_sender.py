"""The process's sender: shared by both email jobs; no key means no request, and a pause."""

from __future__ import annotations

import asyncio
import logging

import pytest

from consumers.email.sender import shared_sender
from streamjobs.settings import load_settings


def test_both_jobs_of_a_process_share_one_sender() -> None:
    async def main() -> bool:
        settings = load_settings(resend_api_key="re_x")
        async with shared_sender(settings) as first, shared_sender(settings) as second:
            return first is second

    assert asyncio.run(main())


def test_without_an_api_key_nothing_is_sent_and_the_job_pauses_saying_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int] = []

    async def request() -> None:
        calls.append(1)

    async def main() -> None:
        async with shared_sender(load_settings(resend_api_key=None)) as sender:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(sender.send(request, facts={"event_id": "e"}), 0.3)

    caplog.set_level(logging.INFO, logger="streamjobs.email")
    asyncio.run(main())
    assert calls == []
    (paused,) = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert paused.__dict__["error"] == "RESEND_API_KEY is not set"
    assert paused.__dict__["event_id"] == "e"

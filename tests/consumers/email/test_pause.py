"""The pause gate: closed until the quota can have reset, then one probe, then open."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta

import pytest

from consumers.email.classify import Verdict
from consumers.email.pause import PauseGate, next_utc_midnight

DAILY = Verdict(kind="pause", code="E", message="daily", pause="daily_quota")
MONTHLY = Verdict(kind="pause", code="E", message="monthly", pause="monthly_quota")


def test_the_daily_quota_resets_at_the_next_utc_midnight() -> None:
    evening = datetime(2026, 12, 1, 23, 59, 30, tzinfo=UTC)
    assert next_utc_midnight(evening) == datetime(2026, 12, 2, tzinfo=UTC)
    assert next_utc_midnight(datetime(2026, 12, 2, tzinfo=UTC)) == datetime(2026, 12, 3, tzinfo=UTC)


def test_a_daily_pause_holds_until_midnight_and_lets_one_probe_through(
    caplog: pytest.LogCaptureFixture,
) -> None:
    started = time.monotonic()
    midnight = datetime(2026, 12, 2, tzinfo=UTC)

    def clock() -> datetime:
        return midnight - timedelta(seconds=0.5 - (time.monotonic() - started))

    async def main() -> list[float]:
        gate = PauseGate(probe_interval=3600, clock=clock)
        passed: list[float] = []

        async def request(n: int) -> None:
            async with gate.passage():
                passed.append(time.monotonic() - started)
                if n == 0:
                    gate.pause(DAILY, facts={})  # the first request earns the 429
                else:
                    await asyncio.sleep(0.2)
                    gate.resume()

        first = asyncio.create_task(request(0))
        await first
        assert gate.paused
        await asyncio.gather(*(request(n) for n in (1, 2, 3)))
        return passed

    caplog.set_level(logging.INFO, logger="streamjobs.email")
    passed = asyncio.run(main())
    assert passed[0] < 0.1
    assert all(at >= 0.5 for at in passed[1:])
    # One probe first; the others pass only after it succeeded, 0.2 s later.
    assert passed[2] - passed[1] >= 0.2
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        "email sending paused; no email is sent or dead-lettered"
    ]


def test_a_failed_probe_keeps_the_pause_without_a_second_error_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> PauseGate:
        gate = PauseGate(probe_interval=0.2)
        async with gate.passage():
            gate.pause(MONTHLY, facts={})
        async with gate.passage():  # the probe, 0.2 s later
            gate.pause(MONTHLY, facts={})
        return gate

    caplog.set_level(logging.INFO, logger="streamjobs.email")
    started = time.monotonic()
    gate = asyncio.run(main())
    assert time.monotonic() - started >= 0.2
    assert gate.paused
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    still = [r for r in caplog.records if r.getMessage() == "email sending still paused"]
    assert (len(errors), len(still)) == (1, 1)

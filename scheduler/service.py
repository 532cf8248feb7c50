"""The scheduler process: the daily slot, the catch-up on start, the HTTP trigger.

One asyncio loop runs it all. The ``schedule`` library marks the slot due at
03:00 UTC; the loop then publishes it, retrying with backoff while the
broker refuses, until it succeeds or the slot's grace
(``CLEANUP_CATCHUP_GRACE``) ends. Any exception in the loop is logged and
sent to Sentry, and the loop goes on. Which slot is due is decided by
``scheduler.slots`` from the injectable clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import schedule
import sentry_sdk
from aiohttp import web
from confluent_kafka import Producer

from producers.publisher import Publisher, PublishError
from scheduler.runs import slot_finished
from scheduler.slots import (
    SLOT_AT,
    due_slot,
    latest_slot,
    manual_event_id,
    manual_instant,
    next_slot,
    slot_event_id,
)
from scheduler.trigger import make_app
from schemas.events import AuditCleanup
from schemas.topics import AUDIT_CLEANUP
from streamjobs.errors import ConfigError
from streamjobs.kafka import producer_config
from streamjobs.settings import Settings

logger = logging.getLogger("streamjobs.scheduler")

Clock = Callable[[], datetime]
"""Returns the current aware instant."""

EVENT_KEY = b"audit.cleanup"
"""One key for every cleanup event: they share a partition, so one consumer sees them in turn."""

PUBLISH_TIMEOUT = 10.0
"""Seconds the broker has to confirm one event before the attempt counts as failed."""

BACKOFF_FIRST, BACKOFF_MAX = 1.0, 60.0
"""Seconds before the first retry of a failed publish; each wait doubles up to the second."""

TICK = 1.0
"""Most seconds the loop sleeps between looks at the schedule."""

STALL_AFTER = 30.0
"""Seconds without a loop turn after which ``/healthz`` reports the loop as stalled."""


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(UTC)


def check_bind(settings: Settings) -> None:
    """Refuse a trigger reachable from other hosts without a secret.

    Raises:
        ConfigError: ``SCHEDULER_HTTP_HOST`` is not a loopback address and
            ``CRON_SECRET`` is unset.
    """
    if settings.cron_secret is None and not is_loopback(settings.scheduler_http_host):
        raise ConfigError(
            f"SCHEDULER_HTTP_HOST={settings.scheduler_http_host} is reachable from other hosts:"
            " set CRON_SECRET, or bind 127.0.0.1"
        )


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (``127.0.0.0/8``, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


def publish_manual(
    publisher: Publisher, *, now: datetime, retention_days: int | None = None
) -> str:
    """Publish a manual cleanup run (what ``POST /api/cron/cleanup`` and the job view's
    "run now" do) and return its event id; calls within one minute share the id.

    Args:
        publisher: the producer to publish with; blocks until the broker confirms.
        now: the current aware instant.
        retention_days: days of logs kept (default: ``CLEANUP_RETENTION_DAYS``).

    Raises:
        PublishError: the broker did not confirm the event.
    """
    event = AuditCleanup(
        scheduled_for=manual_instant(now), retention_days=retention_days, trigger="manual"
    )
    event_id = manual_event_id(now)
    publisher.publish(AUDIT_CLEANUP.name, event, key=EVENT_KEY, event_id=event_id)
    logger.info("published a manual cleanup", extra={"event_id": event_id})
    return event_id


class SchedulerService:
    """Publishes the daily slot and serves the trigger until ``stop``.

    Args:
        settings: brokers, ``CRON_SECRET``, the bind address, the grace.
        clock: the current aware instant; tests pass a fixed one.
        publish_timeout: seconds a publish may take (``PUBLISH_TIMEOUT``).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock = utc_now,
        publish_timeout: float = PUBLISH_TIMEOUT,
    ) -> None:
        self._settings = settings
        self._clock = clock
        producer = Producer(
            producer_config(settings) | {"message.timeout.ms": int(publish_timeout * 1000)}
        )
        self._publisher = Publisher(settings, producer=producer)
        self._schedule = schedule.Scheduler()
        self._schedule.every().day.at(SLOT_AT, "UTC").do(self.slot_reached)
        self._pending: datetime | None = None
        self._retry_at = 0.0
        self._backoff = BACKOFF_FIRST
        self._failing = False
        self._beat = time.monotonic()
        self._stop = asyncio.Event()
        self.address: tuple[str, int] | None = None
        """The bound host and port, once ``run`` listens."""

    def stop(self) -> None:
        """Make ``run`` return (call on the service's loop, e.g. from a signal handler)."""
        self._stop.set()

    def next_run(self) -> datetime | None:
        """When the ``schedule`` library fires next, as an aware UTC instant."""
        fires = self._schedule.next_run
        return None if fires is None else fires.astimezone(UTC)

    def slot_reached(self) -> None:
        """The latest slot is due now: publish it (``schedule`` calls this at 03:00 UTC)."""
        self._mark_due(latest_slot(self._clock()))

    async def run(self) -> None:
        """Listen, catch up, then follow the schedule until ``stop``."""
        runner = web.AppRunner(
            make_app(
                secret=self._settings.cron_secret, publish=self._publish_manual, health=self.health
            )
        )
        await runner.setup()
        try:
            site = web.TCPSite(
                runner, self._settings.scheduler_http_host, self._settings.scheduler_http_port
            )
            await site.start()
            host, port = runner.addresses[0][:2]
            self.address = (host, port)
            logger.info("scheduler listening", extra={"host": host, "port": port})
            await self._catch_up()
            await self._loop()
        finally:
            await runner.cleanup()
            await asyncio.to_thread(self._publisher.flush, PUBLISH_TIMEOUT)

    def health(self) -> tuple[bool, dict[str, Any]]:
        """``/healthz``: healthy unless the loop stalled or the current slot fails to publish."""
        stalled = time.monotonic() - self._beat > STALL_AFTER
        next_at = next_slot(self._clock())
        facts = {
            "status": "stalled" if stalled else "failing" if self._failing else "ok",
            "next_slot": next_at.isoformat(),
            "pending_slot": None if self._pending is None else self._pending.isoformat(),
        }
        return not stalled and not self._failing, facts

    async def _catch_up(self) -> None:
        """Publish the latest slot once if it is within the grace and has no finished run."""
        slot = due_slot(self._clock(), grace=self._settings.cleanup_catchup_grace)
        if slot is None:
            return
        if await asyncio.to_thread(slot_finished, self._settings, slot):
            logger.info("latest slot already cleaned up", extra={"slot": slot.isoformat()})
            return
        logger.info("catching up the latest slot", extra={"slot": slot.isoformat()})
        self._mark_due(slot)

    async def _loop(self) -> None:
        while not self._stop.is_set():
            self._beat = time.monotonic()
            try:
                self._schedule.run_pending()
                await self._publish_pending()
            except Exception as exc:  # the loop must outlive any one failure
                logger.exception("scheduler loop error")
                sentry_sdk.capture_exception(exc)
            idle = self._schedule.idle_seconds
            wait = TICK if idle is None else max(min(idle, TICK), 0.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), wait)

    def _mark_due(self, slot: datetime) -> None:
        self._pending = slot
        self._retry_at = 0.0
        self._backoff = BACKOFF_FIRST

    async def _publish_pending(self) -> None:
        slot = self._pending
        if slot is None or time.monotonic() < self._retry_at:
            return
        if (self._clock() - slot).total_seconds() > self._settings.cleanup_catchup_grace:
            logger.error("gave up publishing the slot: its grace ended", extra={"slot": str(slot)})
            sentry_sdk.capture_message(f"cleanup slot {slot.isoformat()} was never published")
            self._pending = None
            return
        event_id = slot_event_id(slot)
        try:
            await self._send(AuditCleanup(scheduled_for=slot, trigger="schedule"), event_id)
        except PublishError as exc:
            self._failing = True
            self._retry_at = time.monotonic() + self._backoff
            logger.warning(
                "publishing the slot failed; retrying",
                extra={"slot": slot.isoformat(), "retry_in": self._backoff, "error": str(exc)},
            )
            self._backoff = min(self._backoff * 2, BACKOFF_MAX)
            return
        self._pending = None
        self._failing = False
        logger.info("published the daily cleanup", extra={"event_id": event_id})

    async def _publish_manual(self, retention_days: int | None) -> str:
        return await asyncio.to_thread(
            publish_manual, self._publisher, now=self._clock(), retention_days=retention_days
        )

    async def _send(self, event: AuditCleanup, event_id: str) -> None:
        await asyncio.to_thread(
            self._publisher.publish, AUDIT_CLEANUP.name, event, key=EVENT_KEY, event_id=event_id
        )

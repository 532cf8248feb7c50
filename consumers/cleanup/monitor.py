"""Sentry Crons check-ins of the cleanup, so a run that never comes shows as missed.

Each run checks in twice under the monitor ``audit-log-cleanup``: in
progress when it starts, then ok or error with the same check-in id. Every
check-in carries the monitor's config, which creates or updates the monitor
in Sentry (schedule ``0 3 * * *`` UTC, margin and maximum runtime from the
settings). Without ``SENTRY_DSN`` nothing is sent.
"""

from __future__ import annotations

import math
from typing import Any

from sentry_sdk.crons import MonitorStatus, capture_checkin

from schemas.schedules import CLEANUP_CRONTAB
from streamjobs.settings import Settings

MONITOR_SLUG = "audit-log-cleanup"
"""The Sentry Crons monitor the cleanup checks in to."""


class Monitor:
    """Check-ins of one consumer process; a no-op without ``SENTRY_DSN``.

    Args:
        settings: ``SENTRY_DSN`` and the monitor's margin and maximum runtime.
    """

    def __init__(self, settings: Settings) -> None:
        self._enabled = settings.sentry_dsn is not None
        self._config: Any = {
            "schedule": {"type": "crontab", "value": CLEANUP_CRONTAB},
            "timezone": "UTC",
            # Sentry counts both in whole minutes.
            "checkin_margin": math.ceil(settings.cleanup_monitor_checkin_margin / 60),
            "max_runtime": math.ceil(settings.cleanup_monitor_max_runtime / 60),
        }

    def started(self) -> str | None:
        """Check in ``in_progress``; returns the check-in id for ``finished``."""
        if not self._enabled:
            return None
        return capture_checkin(
            monitor_slug=MONITOR_SLUG,
            status=MonitorStatus.IN_PROGRESS,
            monitor_config=self._config,
        )

    def finished(self, check_in_id: str | None, *, ok: bool, duration: float) -> None:
        """Close the check-in ``check_in_id`` as ``ok`` or ``error`` after ``duration`` seconds."""
        if check_in_id is None:
            return
        capture_checkin(
            monitor_slug=MONITOR_SLUG,
            check_in_id=check_in_id,
            status=MonitorStatus.OK if ok else MonitorStatus.ERROR,
            duration=duration,
            monitor_config=self._config,
        )

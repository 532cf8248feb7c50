"""The cleanup's daily slot, shared by the scheduler that publishes it and the
consumer that reports it to Sentry Crons: 03:00 UTC, the schedule of the
system this replaces (``0 3 * * *``)."""

from __future__ import annotations

from datetime import time

CLEANUP_SLOT = time(3, 0)
"""Time of day, in UTC, of the daily cleanup."""

CLEANUP_CRONTAB = f"{CLEANUP_SLOT.minute} {CLEANUP_SLOT.hour} * * *"
"""``CLEANUP_SLOT`` as a crontab line."""

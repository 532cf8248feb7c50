"""Error codes of the cleanup job, as they appear in ``x-error-message`` and logs."""

from __future__ import annotations

E_DATABASE = "E_DATABASE"
"""The database failed or did not answer; the next attempt resumes the run."""

E_BUSY = "E_BUSY"
"""Another cleanup held the lock for longer than ``CLEANUP_MONITOR_MAX_RUNTIME``."""

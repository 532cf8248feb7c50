"""The job view's pages, one module per concern; each has ``add_routes(router)``."""

from __future__ import annotations

from types import ModuleType

from streamjobs.web.views import dlq, endpoints, login, overview, runs, schedules

VIEWS: tuple[ModuleType, ...] = (login, overview, runs, dlq, endpoints, schedules)
"""Every view module, in the order their routes are added."""

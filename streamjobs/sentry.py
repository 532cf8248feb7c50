"""Sentry error reporting, on only when ``SENTRY_DSN`` is set."""

from __future__ import annotations

from typing import Any

import sentry_sdk

from streamjobs.settings import Settings


def init_sentry(settings: Settings, *, component: str) -> bool:
    """Start reporting to Sentry if a DSN is configured; True when it is.

    Tracing stays off: its HTTP integrations would add trace headers to the
    customer webhooks we deliver. Default PII (request bodies, IPs) is off.
    """
    if settings.sentry_dsn is None:
        return False
    sentry_sdk.init(
        dsn=settings.sentry_dsn.get_secret_value(),
        environment=settings.sentry_environment,
        send_default_pii=False,
        traces_sample_rate=0.0,
        trace_propagation_targets=[],
        # Frame locals would carry decoded events (email bodies, webhook payloads).
        include_local_variables=False,
        server_name=component,
    )
    return True


def capture_failure(message: str, *, level: str, tags: dict[str, Any]) -> None:
    """Report one failure as a Sentry event with searchable ``tags``; no payload."""
    with sentry_sdk.new_scope() as scope:
        for key, value in tags.items():
            scope.set_tag(key, value)
        scope.fingerprint = [str(tags.get("topic")), str(tags.get("error_class")), message[:100]]
        sentry_sdk.capture_message(message, level=level)  # type: ignore[arg-type]

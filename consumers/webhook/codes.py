"""Error codes of the webhook job, as they appear in ``webhook_deliveries.error_code``.

One module, so a code is defined once and an operator finds every one here.
"""

from __future__ import annotations

E_TIMEOUT = "E_TIMEOUT"
"""The receiver did not answer within ``WEBHOOK_TIMEOUT`` (retryable)."""

E_CONNECT = "E_CONNECT"
"""The connection to the receiver failed or broke (retryable)."""

E_DNS = "E_DNS"
"""The receiver's host name did not resolve (retryable)."""

E_HTTP = "E_HTTP"
"""The receiver answered with a failing status: 408, 425, 429 and 5xx retryable, other 4xx fatal."""

E_REDIRECT = "E_REDIRECT"
"""The receiver answered 3xx; redirects are never followed (fatal)."""

E_INVALID_URL = "E_INVALID_URL"
"""The endpoint's stored URL is not a valid URL (fatal)."""

E_BLOCKED_TARGET = "E_BLOCKED_TARGET"
"""The network guard refused the target address: private, loopback, metadata, ... (fatal)."""

E_UNKNOWN_WEBHOOK = "E_UNKNOWN_WEBHOOK"
"""No endpoint has the event's ``webhook_id`` (fatal)."""

E_WEBHOOK_DISABLED = "E_WEBHOOK_DISABLED"
"""The endpoint is disabled (fatal)."""

E_BAD_SECRET = "E_BAD_SECRET"
"""The endpoint's stored secret is not a valid ``whsec_`` secret (fatal)."""

E_DATABASE = "E_DATABASE"
"""The database did not answer while loading the endpoint (retryable)."""

E_INTERNAL = "E_INTERNAL"
"""An unexpected error while sending, named by its class only (retryable)."""

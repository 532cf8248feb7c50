"""The ``webhooks`` table: registered endpoints, their secrets and state.

Synchronous functions on the sync engine; the job calls them through
``asyncio.to_thread`` and the CLI directly.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine, Update, func, insert, select, update

from consumers.webhook.outcomes import PENDING
from consumers.webhook.signing import generate_secret
from schemas.tables import webhook_deliveries, webhooks
from streamjobs.errors import ConfigError

URL_SCHEMES = frozenset({"http", "https"})
"""Schemes a webhook URL may use."""

MAX_URL_LENGTH = 2048
"""Longest webhook URL accepted, in characters (what servers and proxies commonly take)."""

MAX_HOST_LENGTH = 253
"""Longest DNS name, in characters (RFC 1035)."""

HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
"""One label of a DNS host name (RFC 1123)."""


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    """One row of ``webhooks``; secrets are left out of ``repr``.

    Args:
        id: the endpoint's id (events name it as ``webhook_id``).
        url: where deliveries are posted.
        secret: the current ``whsec_`` secret.
        previous_secret: the secret before the last rotation, if any.
        previous_secret_expires_at: when ``previous_secret`` stops signing.
        active: False once disabled.
        disabled_at: when it was disabled.
        disabled_reason: why it was disabled.
        description: free text from whoever registered it.
        created_at: when it was registered.
    """

    id: uuid.UUID
    url: str
    secret: str = field(repr=False)
    previous_secret: str | None = field(repr=False)
    previous_secret_expires_at: datetime | None
    active: bool
    disabled_at: datetime | None
    disabled_reason: str | None
    description: str | None
    created_at: datetime

    def secrets_at(self, now: datetime) -> tuple[str, ...]:
        """The secrets that sign at ``now`` (aware): the current one, then the previous one
        until it expires."""
        expires = self.previous_secret_expires_at
        if self.previous_secret is None or expires is None or expires <= now:
            return (self.secret,)
        return (self.secret, self.previous_secret)


def validate_url(url: str) -> str:
    """``url`` when it is an absolute http(s) URL to a valid host name or IP address.

    Refused: more than ``MAX_URL_LENGTH`` characters, white space or control
    characters anywhere, another scheme, no host, a host that is neither an
    IP address nor a DNS name (labels of 1 to 63 letters, digits and hyphens,
    at most 253 characters, a top-level label that is not all digits, so the
    numeric forms ``2130706433`` and ``127.1`` are not taken for names).

    Raises:
        ConfigError: it is refused; the message says why without echoing the
            URL, whose path may hold a token.
    """
    if len(url) > MAX_URL_LENGTH:
        raise ConfigError(f"the webhook URL is longer than {MAX_URL_LENGTH} characters")
    if any(char == " " or not char.isprintable() for char in url):
        raise ConfigError("the webhook URL may not contain white space or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port out of range)
    except ValueError:
        raise ConfigError("the webhook URL is malformed") from None
    if parts.scheme.lower() not in URL_SCHEMES:
        scheme = parts.scheme or "nothing"
        raise ConfigError(f"the webhook URL must start with http:// or https://, not {scheme!r}")
    if not parts.hostname:
        raise ConfigError("the webhook URL needs a host")
    if not _valid_host(parts.hostname):
        raise ConfigError("the webhook URL's host is neither a valid host name nor an IP address")
    return url


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        name = host.removesuffix(".").encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = name.split(".")
    return (
        len(name) <= MAX_HOST_LENGTH
        and all(HOST_LABEL.fullmatch(label) for label in labels)
        and not labels[-1].isdigit()
    )


def add_endpoint(engine: Engine, url: str, *, description: str | None = None) -> Endpoint:
    """Register ``url`` with a new secret and return the row (active).

    Raises:
        ConfigError: the URL is not an http(s) URL.
    """
    values = {"url": validate_url(url), "secret": generate_secret(), "description": description}
    with engine.begin() as connection:
        row = connection.execute(insert(webhooks).values(values).returning(webhooks)).one()
    return Endpoint(**row._mapping)


def get_endpoint(engine: Engine, webhook_id: uuid.UUID) -> Endpoint | None:
    """The endpoint ``webhook_id``, or None when there is none."""
    with engine.connect() as connection:
        row = connection.execute(select(webhooks).where(webhooks.c.id == webhook_id)).first()
    return None if row is None else Endpoint(**row._mapping)


def list_endpoints(engine: Engine) -> list[Endpoint]:
    """Every endpoint, oldest first."""
    with engine.connect() as connection:
        rows = connection.execute(select(webhooks).order_by(webhooks.c.created_at, webhooks.c.id))
        return [Endpoint(**row._mapping) for row in rows]


def disable_endpoint(engine: Engine, webhook_id: uuid.UUID, reason: str) -> Endpoint | None:
    """Mark the endpoint inactive with ``reason``; None when there is none.

    Disabling twice keeps the first ``disabled_at`` and the latest reason.
    """
    statement = update(webhooks).values(
        active=False,
        disabled_at=func.coalesce(webhooks.c.disabled_at, func.now()),
        disabled_reason=reason,
    )
    return _update_one(engine, webhook_id, statement)


def enable_endpoint(engine: Engine, webhook_id: uuid.UUID) -> Endpoint | None:
    """Mark the endpoint active again, clearing when and why it was disabled.

    Returns the row, or None when there is none. Deliveries resume within
    ``WEBHOOK_CONFIG_CACHE_TTL``; events parked meanwhile wait in the DLQ.
    """
    statement = update(webhooks).values(active=True, disabled_at=None, disabled_reason=None)
    return _update_one(engine, webhook_id, statement)


@dataclass(frozen=True, kw_only=True)
class DeliveryStats:
    """An endpoint's record in ``webhook_deliveries``.

    Args:
        attempts: attempts logged with an outcome (``pending`` ones not counted).
        successes: attempts that succeeded.
        pending: attempts logged ``pending``: in flight, or cut short by a crash
            (outcome unknown) and not redone yet.
        last_success_at: when the newest success was logged; None if none.
        recent: the newest attempts, newest first (at most the number asked for).
    """

    attempts: int
    successes: int
    pending: int
    last_success_at: datetime | None
    recent: list[dict[str, Any]]

    @property
    def success_rate(self) -> float | None:
        """Successes over attempts; None before the first attempt."""
        return None if self.attempts == 0 else self.successes / self.attempts


RECENT_COLUMNS = ("created_at", "event_id", "attempt", "outcome", "http_status", "error_code")
"""Columns of ``webhook_deliveries`` that ``delivery_stats`` returns per recent attempt."""


def delivery_stats(engine: Engine, webhook_id: uuid.UUID, *, recent: int = 10) -> DeliveryStats:
    """Success rate, last success and the newest ``recent`` attempts of ``webhook_id``."""
    log = webhook_deliveries.c
    mine = log.webhook_id == webhook_id
    success = log.outcome == "success"
    pending = log.outcome == PENDING
    totals = select(
        func.count().filter(~pending),
        func.count().filter(success),
        func.count().filter(pending),
        func.max(log.created_at).filter(success),
    ).where(mine)
    newest = (
        select(*(log[name] for name in RECENT_COLUMNS))
        .where(mine)
        .order_by(log.created_at.desc(), log.id.desc())
        .limit(recent)
    )
    with engine.connect() as connection:
        attempts, successes, unsettled, last_success_at = connection.execute(totals).one()
        rows = [dict(row._mapping) for row in connection.execute(newest)]
    return DeliveryStats(
        attempts=attempts,
        successes=successes,
        pending=unsettled,
        last_success_at=last_success_at,
        recent=rows,
    )


def rotate_secret(engine: Engine, webhook_id: uuid.UUID, *, grace: float) -> Endpoint | None:
    """Give the endpoint a new secret; the current one keeps signing for ``grace`` seconds.

    A secret older than the current one stops signing at once. Returns the
    updated row (its ``secret`` is the new one), or None when there is none.
    """
    statement = update(webhooks).values(
        secret=generate_secret(),
        previous_secret=webhooks.c.secret,
        previous_secret_expires_at=func.now() + timedelta(seconds=grace),
    )
    return _update_one(engine, webhook_id, statement)


def _update_one(engine: Engine, webhook_id: uuid.UUID, statement: Update) -> Endpoint | None:
    with engine.begin() as connection:
        row = connection.execute(
            statement.where(webhooks.c.id == webhook_id).returning(webhooks)
        ).first()
    return None if row is None else Endpoint(**row._mapping)

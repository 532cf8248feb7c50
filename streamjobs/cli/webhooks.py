"""``streamjobs webhooks``: register and manage webhook endpoints.

Secrets are printed by ``add`` and ``rotate-secret`` only, since handing them
to the operator is those commands' purpose; nothing here logs them.
"""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Engine

from consumers.webhook.registry import (
    DeliveryStats,
    Endpoint,
    add_endpoint,
    delivery_stats,
    disable_endpoint,
    enable_endpoint,
    get_endpoint,
    list_endpoints,
    rotate_secret,
)
from streamjobs.database import failures_reported, sync_engine
from streamjobs.errors import OperationRefused
from streamjobs.settings import Settings

DEFAULT_DISABLE_REASON = "disabled by an operator"
"""Reason recorded by ``webhooks disable`` without ``--reason``."""

RECENT_ATTEMPTS = 10
"""Latest delivery attempts ``webhooks show`` prints by default."""

T = TypeVar("T")


def register(group: argparse.ArgumentParser) -> None:
    """Add the ``webhooks`` sub-commands."""
    actions = group.add_subparsers(dest="action", required=True, parser_class=type(group))
    add = actions.add_parser("add", help="register an endpoint and print its new secret")
    add.add_argument("url", help="http:// or https:// URL that receives the deliveries")
    add.add_argument("--description", help="free text, such as the customer's name")
    add.set_defaults(run=run_add)
    listing = actions.add_parser("list", help="every endpoint with its state")
    listing.set_defaults(run=run_list)
    disable = actions.add_parser("disable", help="stop deliveries to an endpoint")
    disable.add_argument("id", type=_webhook_id, help="the endpoint's id")
    disable.add_argument("--reason", default=DEFAULT_DISABLE_REASON, help="why, for the record")
    disable.set_defaults(run=run_disable)
    enable = actions.add_parser(
        "enable", help="resume deliveries to a disabled endpoint (then replay its dead letters)"
    )
    enable.add_argument("id", type=_webhook_id, help="the endpoint's id")
    enable.set_defaults(run=run_enable)
    show = actions.add_parser(
        "show", help="an endpoint's state, success rate, last success and latest attempts"
    )
    show.add_argument("id", type=_webhook_id, help="the endpoint's id")
    show.add_argument(
        "--attempts", type=int, default=RECENT_ATTEMPTS, metavar="N", help="latest attempts shown"
    )
    show.set_defaults(run=run_show)
    rotate = actions.add_parser(
        "rotate-secret", help="new secret; the old one signs too for WEBHOOK_SECRET_GRACE"
    )
    rotate.add_argument("id", type=_webhook_id, help="the endpoint's id")
    rotate.set_defaults(run=run_rotate_secret)
    for action in (add, listing, disable, enable, show, rotate):
        action.add_argument("--json", action="store_true", help="print JSON, for scripts")


def _webhook_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a webhook id (a UUID)") from None


def run_add(args: argparse.Namespace, settings: Settings) -> int:
    """Register the URL; print the endpoint and its secret."""
    endpoint = _with_engine(
        settings, lambda engine: add_endpoint(engine, args.url, description=args.description)
    )
    shown = describe(endpoint) | {"secret": endpoint.secret}
    _print(args, shown, f"added webhook {endpoint.id}\nsecret {endpoint.secret}")
    return 0


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    """Print every endpoint: id, state, creation time, URL."""
    endpoints = _with_engine(settings, list_endpoints)
    if args.json:
        print(json.dumps([describe(endpoint) for endpoint in endpoints], indent=2))
        return 0
    for endpoint in endpoints:
        created = endpoint.created_at.isoformat(timespec="seconds")
        print(f"{endpoint.id}  {_state(endpoint)}  {created}  {endpoint.url}")
    return 0


def run_disable(args: argparse.Namespace, settings: Settings) -> int:
    """Disable the endpoint with the reason given."""
    endpoint = _with_engine(settings, lambda engine: disable_endpoint(engine, args.id, args.reason))
    if endpoint is None:
        raise _not_found(args.id)
    _print(args, describe(endpoint), f"webhook {endpoint.id} {_state(endpoint)}")
    return 0


def run_enable(args: argparse.Namespace, settings: Settings) -> int:
    """Enable the endpoint; print the replay that re-sends what it missed."""
    endpoint = _with_engine(settings, lambda engine: enable_endpoint(engine, args.id))
    if endpoint is None:
        raise _not_found(args.id)
    hint = f"parked events: streamjobs dlq replay webhook.send --key {endpoint.id} --since TIME"
    _print(args, describe(endpoint), f"webhook {endpoint.id} active\n{hint}")
    return 0


def run_show(args: argparse.Namespace, settings: Settings) -> int:
    """Print the endpoint, its success rate and last success, and its latest attempts."""

    def read(engine: Engine) -> tuple[Endpoint | None, DeliveryStats]:
        return get_endpoint(engine, args.id), delivery_stats(engine, args.id, recent=args.attempts)

    endpoint, stats = _with_engine(settings, read)
    if endpoint is None:
        raise _not_found(args.id)
    facts = describe(endpoint) | {
        "attempts": stats.attempts,
        "pending": stats.pending,
        "success_rate": stats.success_rate,
        "last_success_at": _iso(stats.last_success_at),
        "recent_attempts": [row | {"created_at": _iso(row["created_at"])} for row in stats.recent],
    }
    _print(args, facts, _show_text(endpoint, stats))
    return 0


def _show_text(endpoint: Endpoint, stats: DeliveryStats) -> str:
    rate = "-" if stats.success_rate is None else f"{stats.success_rate:.1%}"
    lines = [
        f"webhook {endpoint.id}  {_state(endpoint)}",
        f"url {endpoint.url}",
        f"success rate {rate} of {stats.attempts} attempts; "
        f"last success {_iso(stats.last_success_at) or 'never'}",
    ]
    if stats.pending:
        lines.append(
            f"{stats.pending} pending: sent or being sent, outcome not logged yet"
            " (in flight, or cut short by a crash until the event is redone)"
        )
    lines += [
        "  ".join(
            str(value if value is not None else "-")
            for value in (
                _iso(row["created_at"]),
                row["event_id"],
                f"attempt={row['attempt']}",
                row["outcome"],
                f"http={row['http_status'] or '-'}",
                row["error_code"],
            )
        )
        for row in stats.recent
    ]
    return "\n".join(lines)


def run_rotate_secret(args: argparse.Namespace, settings: Settings) -> int:
    """Give the endpoint a new secret; print it and when the old one stops signing."""
    endpoint = _with_engine(
        settings,
        lambda engine: rotate_secret(engine, args.id, grace=settings.webhook_secret_grace),
    )
    if endpoint is None:
        raise _not_found(args.id)
    expires = _iso(endpoint.previous_secret_expires_at)
    shown = describe(endpoint) | {"secret": endpoint.secret}
    text = f"new secret for webhook {endpoint.id}\nsecret {endpoint.secret}\n"
    _print(args, shown, text + f"the previous secret signs too until {expires}")
    return 0


def describe(endpoint: Endpoint) -> dict[str, Any]:
    """The endpoint as JSON-ready facts, without its secrets."""
    return {
        "id": str(endpoint.id),
        "url": endpoint.url,
        "description": endpoint.description,
        "state": "active" if endpoint.active else "disabled",
        "disabled_at": _iso(endpoint.disabled_at),
        "disabled_reason": endpoint.disabled_reason,
        "previous_secret_expires_at": _iso(endpoint.previous_secret_expires_at),
        "created_at": _iso(endpoint.created_at),
    }


def _state(endpoint: Endpoint) -> str:
    if endpoint.active:
        return "active"
    return f"disabled ({endpoint.disabled_reason or 'no reason given'})"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _print(args: argparse.Namespace, facts: dict[str, Any], text: str) -> None:
    print(json.dumps(facts, indent=2) if args.json else text)


def _not_found(webhook_id: uuid.UUID) -> OperationRefused:
    return OperationRefused(f"no webhook with id {webhook_id}")


def _with_engine(settings: Settings, work: Callable[[Engine], T]) -> T:
    with failures_reported(settings):
        engine = sync_engine(settings)
        try:
            return work(engine)
        finally:
            engine.dispose()

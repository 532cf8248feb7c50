"""``streamjobs config``: the effective settings, secrets masked."""

from __future__ import annotations

import argparse
import json
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr

from streamjobs.kafka import all_topic_sets
from streamjobs.settings import Settings

MASK = "********"
"""What a secret's value is replaced with."""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``config`` command."""
    command = commands.add_parser("config", help="print the effective settings, secrets masked")
    command.add_argument("--json", action="store_true", help="one JSON object, for scripts")
    command.set_defaults(run=run_config)


def masked_settings(settings: Settings) -> dict[str, Any]:
    """Every setting by environment name; secrets hidden, a URL's password hidden."""
    shown: dict[str, Any] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if name == "database_url":
            value = _mask_url_password(value.get_secret_value())
        elif isinstance(value, SecretStr):
            value = MASK
        shown[name.upper()] = list(value) if isinstance(value, tuple) else value
    return shown


def _mask_url_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", f":{MASK}@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def run_config(args: argparse.Namespace, settings: Settings) -> int:
    """Print the settings and the topics and groups they resolve to."""
    shown = masked_settings(settings)
    topics = {
        t.spec.job: {"group": t.group, "topics": [*t.consumed, t.dlq], "delays_s": list(t.delays)}
        for t in all_topic_sets(settings)
    }
    if args.json:
        print(json.dumps({"settings": shown, "jobs": topics}, indent=2))
        return 0
    width = max(map(len, shown))
    for name, value in shown.items():
        print(f"{name:<{width}}  {'' if value is None else value}")
    print()
    for topic_set in all_topic_sets(settings):
        topics_of = ", ".join([*topic_set.consumed, topic_set.dlq])
        print(f"{topic_set.spec.job}: group {topic_set.group}; topics {topics_of}")
    return 0

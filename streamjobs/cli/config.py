"""``streamjobs config``: the effective settings with what each means, secrets masked.

The text form is an environment file (``# meaning`` above ``NAME=value``,
durations as ``30s``), so it can be saved, edited and loaded again; only
masked secrets do not survive the trip. ``--json`` gives each setting's
value (durations in seconds) and description, and the topics and groups
they resolve to.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from pydantic import SecretStr
from pydantic.fields import FieldInfo

from streamjobs.kafka import all_topic_sets
from streamjobs.redact import MASK, mask_url
from streamjobs.settings import Settings, format_duration, is_duration


def register(command: argparse.ArgumentParser) -> None:
    """Add the arguments of ``config``."""
    command.add_argument("--json", action="store_true", help="one JSON object, for scripts")
    command.set_defaults(run=run_config)


def masked_settings(settings: Settings) -> dict[str, Any]:
    """Every setting's value by environment name; secrets hidden, a URL's password hidden."""
    shown: dict[str, Any] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if name == "database_url":
            value = mask_url(value.get_secret_value())
        elif isinstance(value, SecretStr):
            value = MASK
        shown[name.upper()] = list(value) if isinstance(value, tuple) else value
    return shown


def run_config(args: argparse.Namespace, settings: Settings) -> int:
    """Print the settings and the topics and groups they resolve to."""
    fields = type(settings).model_fields
    values = masked_settings(settings)
    if args.json:
        described = {
            name: {"value": value, "description": fields[name.lower()].description}
            for name, value in values.items()
        }
        print(json.dumps({"settings": described, "jobs": _jobs(settings)}, indent=2))
        return 0
    for name, value in values.items():
        field = fields[name.lower()]
        print(f"# {field.description}\n{name}={_as_text(value, field)}")
    print()
    for job, facts in _jobs(settings).items():
        print(f"# {job}: group {facts['group']}; topics {', '.join(facts['topics'])}")
    return 0


def _jobs(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
        t.spec.job: {"group": t.group, "topics": [*t.consumed, t.dlq], "delays_s": list(t.delays)}
        for t in all_topic_sets(settings)
    }


def _as_text(value: Any, field: FieldInfo) -> str:
    """``value`` as the environment variable would spell it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(map(format_duration, value)) if value else "none"
    return format_duration(value) if is_duration(field) else str(value)

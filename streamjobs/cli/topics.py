"""``streamjobs topics create``: create every topic of the registry."""

from __future__ import annotations

import argparse

from streamjobs.kafka import create_topics
from streamjobs.settings import Settings


def register(group: argparse.ArgumentParser) -> None:
    """Add the ``topics`` sub-commands."""
    actions = group.add_subparsers(dest="action", required=True, parser_class=type(group))
    create = actions.add_parser("create", help="create every main, delay and DLQ topic")
    create.set_defaults(run=run_create)


def run_create(args: argparse.Namespace, settings: Settings) -> int:
    """Create missing topics and say what existed already."""
    result = create_topics(settings)
    for name in sorted(result.created):
        print(f"created  {name}")
    for name in sorted(result.existing):
        print(f"exists   {name}")
    print(f"{len(result.created)} created, {len(result.existing)} already existed")
    return 0

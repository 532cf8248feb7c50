"""``streamjobs db``: schema migrations."""

from __future__ import annotations

import argparse

from streamjobs import database
from streamjobs.settings import Settings


def register(group: argparse.ArgumentParser) -> None:
    """Add the ``db`` sub-commands."""
    actions = group.add_subparsers(dest="action", required=True, parser_class=type(group))
    upgrade = actions.add_parser("upgrade", help="migrate up (default: to the newest revision)")
    upgrade.add_argument("revision", nargs="?", default="head")
    upgrade.set_defaults(run=run_upgrade)
    downgrade = actions.add_parser("downgrade", help="migrate down to REVISION ('base': empty)")
    downgrade.add_argument("revision")
    downgrade.set_defaults(run=run_downgrade)
    current = actions.add_parser("current", help="print the database's revision")
    current.set_defaults(run=run_current)


def run_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    """Migrate up and print the revision reached."""
    with database.failures_reported(settings):
        database.upgrade(settings, args.revision)
        reached = database.current_revision(settings)
    print(f"database at revision {reached}")
    return 0


def run_downgrade(args: argparse.Namespace, settings: Settings) -> int:
    """Migrate down and print the revision reached."""
    with database.failures_reported(settings):
        database.downgrade(settings, args.revision)
        reached = database.current_revision(settings)
    print(f"database at revision {reached or 'base'}")
    return 0


def run_current(args: argparse.Namespace, settings: Settings) -> int:
    """Print the database's revision."""
    with database.failures_reported(settings):
        reached = database.current_revision(settings)
    print(reached or "base")
    return 0

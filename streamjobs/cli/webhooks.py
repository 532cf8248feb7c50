"""``streamjobs webhooks``: register and manage webhook endpoints."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``webhooks`` command group."""
    commands.add_parser("webhooks", help="manage webhook endpoints")

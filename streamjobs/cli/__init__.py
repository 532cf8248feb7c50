"""The ``streamjobs`` command line.

Each command group lives in its own module with a ``register`` function that
adds its sub-commands; a command is a function of the parsed arguments and the
settings that returns the exit status.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from streamjobs.cli import (
    config,
    consume,
    database,
    dlq,
    produce,
    scheduler,
    status,
    topics,
    webhooks,
)
from streamjobs.errors import ConfigError
from streamjobs.logs import configure_logging
from streamjobs.settings import load_settings

USAGE_ERROR = 2
"""Exit status for a malformed command line or setting."""


class Parser(argparse.ArgumentParser):
    """An argument parser that reports a usage error as one line and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message}\n")


def build_parser() -> Parser:
    """The full command tree."""
    parser = Parser(prog="streamjobs", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for module in (consume, produce, dlq, topics, database, webhooks, status, config, scheduler):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Entry point of the ``streamjobs`` console script."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(level=settings.log_level, fmt=settings.log_format)
        sys.exit(args.run(args, settings))
    except ConfigError as exc:
        print(f"streamjobs: error: {exc}", file=sys.stderr)
        sys.exit(USAGE_ERROR)

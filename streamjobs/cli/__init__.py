"""The ``streamjobs`` command line.

Each command lives in a module of its own, imported only when that command
runs, so ``streamjobs --help`` and the commands that never touch the database
load neither SQLAlchemy nor Alembic. A command module has
``register(parser)``, which adds its arguments (or sub-commands) to the
parser made for it here; each command is a function of the parsed arguments
and the settings that returns the exit status. Adding a command is one line
in ``COMMANDS``.

A command never prints its own failure nor picks an exit status for it: it
raises one of the project's errors (``streamjobs.errors``) and ``main``
decides, in one place:

====================================  ======  ==============================
what happened                         status  printed on stderr
====================================  ======  ==============================
done                                  0
bad usage, a malformed setting        2       one line (``ConfigError``)
a service did not answer              1       one line naming it and where
an operation refused or failed        1       one line (any other
                                              ``StreamjobsError``)
stdout closed by the reader           1       nothing
Ctrl-C                                130     nothing
anything else (a bug)                 1       one line; ``LOG_LEVEL=DEBUG``
                                              adds the traceback
====================================  ======  ==============================
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from importlib import import_module
from typing import NamedTuple, NoReturn

from streamjobs.errors import ConfigError, StreamjobsError

USAGE_ERROR = 2
"""Exit status for a malformed command line or setting."""

FAILURE = 1
"""Exit status for an unreachable service or a failed operation."""

INTERRUPTED = 130
"""Exit status after Ctrl-C, as a shell reports a process that SIGINT ended."""

MESSAGE_LIMIT = 500
"""Characters of an error message printed; the rest is cut."""

DESCRIPTION = "Background jobs on Kafka: consume, publish, inspect dead letters, manage endpoints."
"""The first line of ``streamjobs --help``."""

logger = logging.getLogger(__name__)


class CommandEntry(NamedTuple):
    """A command, and what ``streamjobs --help`` says of it without importing it.

    Args:
        module: the module whose ``register(parser)`` defines the command.
        help: one line for the command list.
    """

    module: str
    help: str


COMMANDS: dict[str, CommandEntry] = {
    "consume": CommandEntry("streamjobs.cli.consume", "run a job's consumer until SIGTERM/SIGINT"),
    "produce": CommandEntry("streamjobs.cli.produce", "validate and publish one event"),
    "dlq": CommandEntry("streamjobs.cli.dlq", "inspect and re-drive dead-letter topics"),
    "topics": CommandEntry("streamjobs.cli.topics", "manage the registry's topics"),
    "db": CommandEntry("streamjobs.cli.database", "database schema migrations"),
    "webhooks": CommandEntry("streamjobs.cli.webhooks", "manage webhook endpoints"),
    "status": CommandEntry("streamjobs.cli.status", "lag per group, DLQ depth, last cleanup"),
    "scheduler": CommandEntry(
        "streamjobs.cli.scheduler",
        "publish audit.cleanup daily at 03:00 UTC and serve POST /api/cron/cleanup",
    ),
    "web": CommandEntry(
        "streamjobs.web.command", "serve the job view (runs, DLQ, endpoints, schedules) on :8288"
    ),
    "config": CommandEntry("streamjobs.cli.config", "print the effective settings, secrets masked"),
}
"""Every command, by name, in the order ``--help`` lists them."""


class Parser(argparse.ArgumentParser):
    """An argument parser for streamjobs commands.

    A usage error is one line and exit status 2. Options and positional
    arguments may come in any order in a command without sub-commands
    (``produce TOPIC --event-id ID JSON``), which plain argparse refuses
    when an optional positional comes after an option.
    """

    _intermixing = False

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message}\n")

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        # parse_known_intermixed_args calls parse_known_args itself (twice);
        # those inner calls must take the plain path.
        if self._intermixing or self._subparsers is not None:
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


def build_parser(argv: Sequence[str] = ()) -> Parser:
    """The command tree, with the arguments of the command named in ``argv`` only.

    The other commands get their name and help line, which is all that
    ``streamjobs --help`` and a usage error need, without importing them.
    """
    parser = Parser(prog="streamjobs", description=DESCRIPTION)
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=Parser
    )
    chosen = next((arg for arg in argv if not arg.startswith("-")), None)
    for name, entry in COMMANDS.items():
        command = commands.add_parser(name, help=entry.help, description=entry.help)
        if name == chosen:
            import_module(entry.module).register(command)
    return parser


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Entry point of the ``streamjobs`` console script; exits with the command's status."""
    sys.exit(run(sys.argv[1:] if argv is None else argv))


def run(argv: Sequence[str]) -> int:
    """Parse ``argv``, run the command, and turn whatever it raised into an exit status."""
    try:
        status = _execute(build_parser(argv).parse_args(argv))
        sys.stdout.flush()  # a closed stdout must fail here, not at exit
    except ConfigError as exc:
        return _report(exc, USAGE_ERROR)
    except StreamjobsError as exc:
        return _report(exc, FAILURE)
    except BrokenPipeError:
        _discard_stdout()
        return FAILURE
    except KeyboardInterrupt:
        return INTERRUPTED
    except Exception as exc:
        logger.debug("unexpected error", exc_info=True)
        return _report(exc, FAILURE, prefix=f"unexpected {type(exc).__name__} (a bug): ")
    return status


def _execute(args: argparse.Namespace) -> int:
    """Load the settings, set up logging and run the parsed command."""
    # Imported only now: pydantic is most of the start-up time, and --help needs none of it.
    from streamjobs.logs import configure_logging
    from streamjobs.settings import load_settings

    settings = load_settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    status: int = args.run(args, settings)
    return status


def _report(exc: BaseException, status: int, *, prefix: str = "") -> int:
    message = " ".join(f"{prefix}{exc}".split())
    if len(message) > MESSAGE_LIMIT:
        message = message[: MESSAGE_LIMIT - 1] + "…"
    with contextlib.suppress(OSError):  # stderr gone too: the status is all that is left
        print(f"streamjobs: error: {message}", file=sys.stderr)
    return status


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)

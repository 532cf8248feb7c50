"""``streamjobs consume JOB``: run a member of a job's consumer group."""

from __future__ import annotations

import argparse

from consumers.catalog import CATALOG, JOB_NAMES, jobs_named
from consumers.runtime.runner import Runner
from streamjobs.cli.members import Members
from streamjobs.sentry import init_sentry
from streamjobs.settings import Settings


def register(command: argparse.ArgumentParser) -> None:
    """Add the arguments of ``consume``."""
    command.add_argument(
        "job",
        choices=[*JOB_NAMES, "all"],
        metavar="JOB",
        help=f"one of {', '.join(JOB_NAMES)}, or all",
    )
    command.add_argument(
        "--concurrency",
        type=_positive_int,
        default=None,
        help=(
            "messages in flight per process and job, POSTs for webhook (default:"
            f" CONSUMER_CONCURRENCY when set, else the job's own: {_own_concurrency()})"
        ),
    )
    command.add_argument(
        "--drain-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="time to finish in-flight work on shutdown (default 30)",
    )
    command.add_argument(
        "--processes",
        type=_positive_int,
        default=1,
        metavar="N",
        help=(
            "members of the group started by this command, one process each (default 1);"
            " SIGTERM or SIGINT stops them all, and one that dies stops the rest (exit 1)"
        ),
    )
    command.set_defaults(run=run_consume)


def member_args(args: argparse.Namespace) -> list[str]:
    """The command line, after ``streamjobs``, of one member of ``consume --processes N``."""
    member = ["consume", args.job]
    if args.concurrency is not None:
        member += ["--concurrency", str(args.concurrency)]
    if args.drain_timeout is not None:
        member += ["--drain-timeout", str(args.drain_timeout)]
    return member


def _own_concurrency() -> str:
    return ", ".join(f"{name} {entry.concurrency}" for name, entry in CATALOG.items())


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def run_consume(args: argparse.Namespace, settings: Settings) -> int:
    """Consume until SIGTERM or SIGINT, then drain and exit 0.

    With ``--processes N`` above 1, start N single-process members instead
    and wait for them (``streamjobs.cli.members``).
    """
    init_sentry(settings, component=f"consumer-{args.job}")  # also hears of a member lost
    if args.processes > 1:
        return Members(member_args(args), count=args.processes).run()
    runner = Runner(
        jobs_named(args.job),
        settings,
        drain_timeout=args.drain_timeout,
        concurrency=args.concurrency,
    )
    return runner.run_until_signalled()

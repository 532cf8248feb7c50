"""``streamjobs consume JOB``: run a member of a job's consumer group."""

from __future__ import annotations

import argparse

from consumers.catalog import CATALOG, JOB_NAMES, jobs_named
from consumers.runtime.runner import Runner
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
            "messages in flight per process and job (default: CONSUMER_CONCURRENCY when set,"
            f" else the job's own: {_own_concurrency()})"
        ),
    )
    command.add_argument(
        "--drain-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="time to finish in-flight work on shutdown (default 30)",
    )
    command.set_defaults(run=run_consume)


def _own_concurrency() -> str:
    return ", ".join(f"{name} {entry.concurrency}" for name, entry in CATALOG.items())


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def run_consume(args: argparse.Namespace, settings: Settings) -> int:
    """Consume until SIGTERM or SIGINT, then drain and exit 0."""
    init_sentry(settings, component=f"consumer-{args.job}")
    runner = Runner(
        jobs_named(args.job),
        settings,
        drain_timeout=args.drain_timeout,
        concurrency=args.concurrency,
    )
    return runner.run_until_signalled()

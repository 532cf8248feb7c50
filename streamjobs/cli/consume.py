"""``streamjobs consume JOB``: run a member of a job's consumer group."""

from __future__ import annotations

import argparse

from consumers.catalog import JOB_MODULES, jobs_named
from consumers.runtime.runner import Runner
from streamjobs.sentry import init_sentry
from streamjobs.settings import Settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``consume`` command."""
    command = commands.add_parser("consume", help="run a job's consumer until SIGTERM/SIGINT")
    command.add_argument(
        "job",
        choices=[*JOB_MODULES, "all"],
        metavar="JOB",
        help=f"one of {', '.join(JOB_MODULES)}, or all",
    )
    command.add_argument(
        "--concurrency",
        type=_positive_int,
        default=None,
        help="messages in flight per job (default: the job's own, 100 for I/O)",
    )
    command.add_argument(
        "--drain-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="time to finish in-flight work on shutdown (default 30)",
    )
    command.set_defaults(run=run_consume)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def run_consume(args: argparse.Namespace, settings: Settings) -> int:
    """Consume until SIGTERM or SIGINT, then drain and exit 0."""
    init_sentry(settings, component=f"consumer-{args.job}")
    if args.concurrency is not None:
        # Through the settings, so that job resources (the HTTP pool) size themselves to it.
        settings = settings.model_copy(update={"consumer_concurrency": args.concurrency})
    runner = Runner(jobs_named(args.job), settings, drain_timeout=args.drain_timeout)
    return runner.run_until_signalled()

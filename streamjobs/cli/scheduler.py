"""``streamjobs scheduler``: the daily cleanup publisher and the manual HTTP trigger."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from scheduler.service import SchedulerService, check_bind
from streamjobs.sentry import init_sentry
from streamjobs.settings import Settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``scheduler`` command."""
    command = commands.add_parser(
        "scheduler",
        help="publish audit.cleanup daily at 03:00 UTC and serve POST /api/cron/cleanup",
    )
    command.set_defaults(run=run_scheduler)


def run_scheduler(args: argparse.Namespace, settings: Settings) -> int:
    """Run until SIGTERM or SIGINT, then exit 0; 1 when the address cannot be bound."""
    check_bind(settings)
    init_sentry(settings, component="scheduler")
    try:
        asyncio.run(_serve(settings))
    except OSError as exc:
        address = f"{settings.scheduler_http_host}:{settings.scheduler_http_port}"
        print(f"streamjobs: error: cannot listen on {address}: {exc.strerror}", file=sys.stderr)
        return 1
    return 0


async def _serve(settings: Settings) -> None:
    service = SchedulerService(settings)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, service.stop)
    await service.run()

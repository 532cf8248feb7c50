"""``streamjobs web``: serve the job view on ``WEB_HOST``:``WEB_PORT`` until SIGTERM/SIGINT.

The command's module lives here, not in ``streamjobs.cli``: the two surfaces
never import each other, and ``streamjobs.cli.COMMANDS`` loads a command's
module by name.
"""

from __future__ import annotations

import argparse
import asyncio

from streamjobs.settings import Settings
from streamjobs.web.server import serve


def register(command: argparse.ArgumentParser) -> None:
    """Add the arguments of ``web``."""
    command.description = (
        "Serve the job view: an overview per job, runs and their attempts, dead letters to "
        "replay, endpoints to enable or recover, the cleanup schedule. With DASHBOARD_TOKEN "
        "unset it binds loopback only."
    )
    command.add_argument(
        "--port", type=_port, default=None, metavar="PORT", help="listen here (default WEB_PORT)"
    )
    command.add_argument("--host", default=None, help="bind this address (default WEB_HOST)")
    command.set_defaults(run=run_web)


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65_535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port from 0 to 65535")
    return int(text)


def run_web(args: argparse.Namespace, settings: Settings) -> int:
    """Serve until SIGTERM or SIGINT, then exit 0."""
    host = args.host or settings.web_host
    port = settings.web_port if args.port is None else args.port
    asyncio.run(serve(settings, host=host, port=port))
    return 0

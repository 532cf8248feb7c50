"""Serving the job view until SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from aiohttp import web

from streamjobs.errors import OperationRefused
from streamjobs.settings import Settings
from streamjobs.web.app import make_app
from streamjobs.web.security import check_bind

logger = logging.getLogger("streamjobs.web")

NO_TOKEN_NOTE = "DASHBOARD_TOKEN is unset: no sign-in, so the job view serves loopback only"
"""Printed at start when the view runs without a token."""


async def serve(settings: Settings, *, host: str, port: int) -> None:
    """Listen on ``host``:``port`` and print the address; return after SIGTERM or SIGINT.

    Raises:
        ConfigError: ``host`` is not loopback and ``DASHBOARD_TOKEN`` is unset.
        OperationRefused: the address cannot be bound (the port is taken, say).
    """
    check_bind(settings, host)
    if settings.dashboard_token is None:
        print(f"streamjobs web: {NO_TOKEN_NOTE}", file=sys.stderr, flush=True)
    runner = web.AppRunner(make_app(settings), access_log=None)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            raise OperationRefused(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        bound_host, bound_port = runner.addresses[0][:2]
        print(f"streamjobs web: serving http://{bound_host}:{bound_port}/", flush=True)
        logger.info("job view listening", extra={"host": bound_host, "port": bound_port})
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        with contextlib.suppress(Exception):
            await runner.cleanup()

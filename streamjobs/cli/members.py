"""Several members of a consumer group from one command: ``consume JOB --processes N``.

Each member is a ``streamjobs consume JOB`` process of its own, so each has
its own interpreter and GIL: a webhook process is bound by interpreter time,
and a second process on a second core nearly doubles the rate (README,
Benchmarks). This process only starts the members, passes SIGTERM and SIGINT
on to them and waits while they drain.

A member that exits while no signal asked it to (a crash, SIGKILL, a failed
poll loop) is reported in one error line with its status; the other members
are then stopped with SIGTERM and the command exits 1, like a single process
that fails, so that the supervisor restarts the whole set. Members are not
restarted here: a restart loop would hide a member that keeps failing.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType

logger = logging.getLogger("streamjobs.consumer")

WATCH_INTERVAL = 0.2
"""Seconds between looks at the members."""

MEMBER_PROGRAM = "from streamjobs.cli import main; main()"
"""What each member runs: the ``streamjobs`` command, in this interpreter."""


class Members:
    """Runs ``count`` processes of ``streamjobs ARGS`` until a signal or a failure.

    Args:
        args: the member's command line after ``streamjobs`` (``consume JOB ...``).
        count: how many members to start.
    """

    def __init__(self, args: Sequence[str], *, count: int) -> None:
        self._args = list(args)
        self._count = count
        self._processes: list[subprocess.Popen[bytes]] = []
        self._stopping = False

    def run(self) -> int:
        """Start the members and wait for all; 0 when every member exited 0 after a signal."""
        previous = {
            signum: signal.signal(signum, self._forward)
            for signum in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            for _ in range(self._count):
                if not self._stopping:  # a signal during start-up starts no more
                    self._processes.append(
                        subprocess.Popen([sys.executable, "-c", MEMBER_PROGRAM, *self._args])
                    )
            failed = self._watch()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        statuses = [process.wait() for process in self._processes]
        return 1 if failed or any(statuses) else 0

    def _watch(self) -> bool:
        """Wait until every member has exited; True when one exited unasked."""
        failed = False
        while True:
            running = [process for process in self._processes if process.poll() is None]
            if not self._stopping and (gone := self._exited()) is not None:
                failed = True
                logger.error(
                    "consumer process exited unasked; stopping the others",
                    extra={"pid": gone.pid, "status": gone.returncode},
                )
                self._signal_all(signal.SIGTERM)
            if not running:
                return failed
            time.sleep(WATCH_INTERVAL)

    def _exited(self) -> subprocess.Popen[bytes] | None:
        return next((p for p in self._processes if p.returncode is not None), None)

    def _forward(self, signum: int, _frame: FrameType | None) -> None:
        self._signal_all(signum)

    def _signal_all(self, signum: int) -> None:
        self._stopping = True
        for process in self._processes:
            if process.poll() is None:
                process.send_signal(signum)

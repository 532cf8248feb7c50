"""``streamjobs consume JOB`` in a child process, for tests that kill and restart it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from streamjobs.settings import Settings

REPO_ROOT = Path(__file__).parents[1]
"""Where the child process finds the packages."""

CLI = "from streamjobs.cli import main; main()"
"""The ``streamjobs`` command, run from the source tree."""


class ConsumerProcess:
    """One ``streamjobs consume JOB`` child on the test's broker, topics and database.

    Args:
        settings: the test's settings (bootstrap servers, topic prefix, database URL).
        job: the job to consume.
        log: file the child's stderr is appended to.
        env: further environment variables of the child (job settings, group instance id).
    """

    def __init__(self, settings: Settings, *, job: str, log: Path, env: dict[str, str]) -> None:
        self._job = job
        self._env = (
            os.environ
            | {
                "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
                "KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
                "DATABASE_URL": settings.database_url.get_secret_value(),
                "PYTHONPATH": str(REPO_ROOT),
            }
            | env
        )
        self._log = log
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start (or restart) the child."""
        self._process = subprocess.Popen(
            [sys.executable, "-c", CLI, "consume", self._job],
            cwd=REPO_ROOT,
            env=self._env,
            stderr=self._log.open("ab"),
        )

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the running child."""
        assert self._process is not None
        self._process.send_signal(signum)

    def wait(self) -> int:
        """Wait (at most 60 s) for the child to exit; its exit status."""
        assert self._process is not None
        return self._process.wait(60)

    def kill(self) -> None:
        """SIGKILL the child and wait until it is gone."""
        self.signal(signal.SIGKILL)
        self.wait()

    def stop(self) -> None:
        """Stop a child still running with SIGTERM and wait for it."""
        if self._process is not None and self._process.poll() is None:
            self.signal(signal.SIGTERM)
            self.wait()

"""Fixtures for runtime tests: the probe job's topics, and the probe in a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from schemas.topics import TopicSet
from streamjobs.kafka import create_topics, topic_set
from streamjobs.settings import Settings
from tests.consumers.runtime.probe import PROBE_TOPIC

REPO_ROOT = Path(__file__).parents[3]
"""Where ``python -m tests...`` finds the test packages."""


@pytest.fixture
def probe_topics(settings: Settings) -> TopicSet:
    """The probe's main, delay and dead-letter topics under the test's prefix."""
    topics = topic_set(settings, PROBE_TOPIC)
    create_topics(settings, [topics])
    return topics


class ProbeProcess:
    """The probe job in a subprocess, logging ``begin N`` / ``done N`` lines to a file.

    Args:
        settings: the test's settings; passed to the child through its environment.
        log: the file the child appends to.
        env: extra environment variables.
    """

    def __init__(self, settings: Settings, log: Path, **env: str) -> None:
        self.log = log
        self._env = os.environ | _environment(settings) | env
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> ProbeProcess:
        """Start (or restart) the child."""
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.consumers.runtime.probe", str(self.log)],
            cwd=REPO_ROOT,
            env=self._env,
            stderr=(self.log.with_suffix(".stderr")).open("ab"),
        )
        return self

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the child."""
        assert self._process is not None
        self._process.send_signal(signum)

    def kill(self) -> None:
        """SIGKILL the child and reap it."""
        self.signal(signal.SIGKILL)
        self.wait()

    def wait(self, timeout: float = 60.0) -> int:
        """The child's exit status, waiting up to ``timeout`` seconds."""
        assert self._process is not None
        return self._process.wait(timeout)

    def lines(self, kind: str) -> list[int]:
        """Event ids of the child's ``kind`` (``begin`` or ``done``) lines so far."""
        if not self.log.exists():
            return []
        return [
            int(line.split()[1])
            for line in self.log.read_text().splitlines()
            if line.startswith(kind + " ") and len(line.split()) == 2
        ]

    def stop(self) -> None:
        """Kill the child if it still runs (test cleanup)."""
        if self._process is not None and self._process.poll() is None:
            self.kill()


def _environment(settings: Settings) -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
        "RETRY_DELAYS": ",".join(f"{delay}s" for delay in settings.retry_delays),
        "DATABASE_URL": settings.database_url.get_secret_value(),
        "PYTHONPATH": str(REPO_ROOT),
    }


@pytest.fixture
def probe_process(settings: Settings, tmp_path: Path) -> Iterator[Callable[..., ProbeProcess]]:
    """Makes probe subprocesses (``make(name, **env)``); kills leftovers after the test."""
    made: list[ProbeProcess] = []

    def make(name: str = "probe", **env: str) -> ProbeProcess:
        process = ProbeProcess(settings, tmp_path / f"{name}.log", **env)
        made.append(process)
        return process

    yield make
    for process in made:
        process.stop()

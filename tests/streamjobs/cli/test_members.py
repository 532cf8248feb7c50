"""``streamjobs consume JOB --processes N``: N members of the group from one command."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from consumers.webhook.job import JOB
from streamjobs.kafka import create_topics, topic_set
from streamjobs.settings import Settings
from tests.consumers.webhook.test_scale_out import both_assigned, webhook_group
from tests.kafka_support import wait_until
from tests.streamjobs.cli.support import spawn, streamjobs


@pytest.fixture
def log(tmp_path: Path) -> Path:
    """Where the command's stdout and stderr go."""
    return tmp_path / "consume.log"


@pytest.fixture
def command(db: Engine, settings: Settings, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``consume webhook --processes 2``, running; SIGKILLed with its members if a test fails."""
    create_topics(settings, [topic_set(settings, JOB.topic)])
    process = spawn(settings, "consume", "webhook", "--processes", "2", stderr=log)
    try:
        yield process
    finally:
        if process.poll() is None:
            for pid in members_of(process):
                os.kill(pid, signal.SIGKILL)
            process.kill()
            process.wait(10)


def members_of(process: subprocess.Popen[bytes]) -> list[int]:
    """The process ids of the command's child processes."""
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text()
    return [int(pid) for pid in children.split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def group_members(settings: Settings) -> int:
    return len(webhook_group(settings)["members"])


def test_two_members_join_the_group_and_sigterm_stops_both_with_status_0(
    settings: Settings, command: subprocess.Popen[bytes]
) -> None:
    wait_until(lambda: both_assigned(settings), timeout=60, interval=0.5)
    members = members_of(command)
    assert len(members) == 2

    command.send_signal(signal.SIGTERM)

    assert command.wait(60) == 0
    assert not any(alive(pid) for pid in members)
    assert group_members(settings) == 0


def test_a_member_that_dies_is_reported_and_stops_the_other_with_status_1(
    settings: Settings, command: subprocess.Popen[bytes], log: Path
) -> None:
    wait_until(lambda: both_assigned(settings), timeout=60, interval=0.5)
    killed, other = members_of(command)

    os.kill(killed, signal.SIGKILL)

    assert command.wait(60) == 1
    assert not alive(other)
    (line,) = [line for line in log.read_text().splitlines() if "exited unasked" in line]
    assert f"pid={killed}" in line
    assert f"status={-signal.SIGKILL}" in line


def test_processes_below_1_is_a_usage_error(settings: Settings) -> None:
    done = streamjobs(settings, "consume", "webhook", "--processes", "0")

    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "streamjobs consume: error: argument --processes: must be at least 1, got 0"
    ]

"""What the command line loads before it works, and how it ends when its reader leaves."""

from __future__ import annotations

import subprocess
import sys

import pytest

from schemas.topics import WEBHOOK_SEND
from streamjobs.kafka import create_topics, topic_set
from streamjobs.settings import Settings
from tests.streamjobs.cli.support import STREAMJOBS, environment

HEAVY = ("sqlalchemy", "alembic", "pydantic")
"""Packages whose import is most of a command's start-up time."""

PROBE = f"""
import sys
from streamjobs.cli import run
try:
    status = run(sys.argv[1:])
except SystemExit as exit:
    status = exit.code
loaded = sorted({{name.split(".")[0] for name in sys.modules}} & set({HEAVY!r}))
print("loaded:", ",".join(loaded), file=sys.stderr)
sys.exit(status)
"""
"""Runs the command line in-process, then names the heavy packages it imported."""


def loaded_by(settings: Settings, *args: str) -> set[str]:
    """Which of ``HEAVY`` the command ``args`` imported; the command must succeed."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        env=environment(settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return set(filter(None, done.stderr.splitlines()[-1].removeprefix("loaded: ").split(",")))


def test_help_loads_neither_pydantic_nor_the_database_stack(settings: Settings) -> None:
    assert loaded_by(settings, "--help") == set()


@pytest.mark.parametrize(
    "args",
    [
        ["config", "--json"],
        ["topics", "create"],
        ["dlq", "list", "webhook.send"],
        ["produce", "webhook.send", "--help"],
    ],
)
def test_commands_that_never_touch_the_database_load_neither_sqlalchemy_nor_alembic(
    settings: Settings, args: list[str]
) -> None:
    create_topics(settings, [topic_set(settings, WEBHOOK_SEND)])
    assert loaded_by(settings, *args) == {"pydantic"}


def test_a_command_whose_reader_left_ends_quietly(settings: Settings) -> None:
    command = subprocess.Popen(
        [STREAMJOBS, "config", "--json"],
        env=environment(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert command.stdout is not None
    command.stdout.close()  # gone before the command writes its first byte
    _, stderr = command.communicate(timeout=60)
    assert (command.returncode, stderr) == (1, "")

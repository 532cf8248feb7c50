"""Log lines are text for a person at a terminal and JSON for everything else."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

import pytest

SCRIPT = """
import logging, sys
from streamjobs.logs import configure_logging
configure_logging(fmt=(sys.argv[1] or None))
logging.getLogger("probe").warning("hello", extra={"topic": "t"})
"""
"""Configures logging as the command line does and logs one line."""


def logged(fmt: str, *, terminal: bool) -> str:
    """What a fresh interpreter logs with ``fmt`` ("" for the default) to a pty or a pipe."""
    if not terminal:
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT, fmt], capture_output=True, text=True, check=True
        )
        return done.stderr.strip()
    controller, terminal_end = pty.openpty()
    try:
        subprocess.run([sys.executable, "-c", SCRIPT, fmt], stderr=terminal_end, check=True)
        return os.read(controller, 65536).decode().strip()
    finally:
        os.close(controller)
        os.close(terminal_end)


def test_a_terminal_gets_text() -> None:
    line = logged("", terminal=True)
    assert line.endswith("warning probe: hello topic=t")


def test_a_pipe_gets_one_json_object_per_line() -> None:
    record = json.loads(logged("", terminal=False))
    assert (record["level"], record["message"], record["topic"]) == ("warning", "hello", "t")


@pytest.mark.parametrize(("fmt", "terminal"), [("json", True), ("text", False)])
def test_log_format_overrides_the_guess(fmt: str, terminal: bool) -> None:
    line = logged(fmt, terminal=terminal)
    assert line.startswith("{") == (fmt == "json")

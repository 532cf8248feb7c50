"""Runs the installed ``streamjobs`` command against the test's services."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from streamjobs.settings import Settings

STREAMJOBS = str(Path(sys.executable).with_name("streamjobs"))
"""The installed console script, next to the interpreter running the tests."""


def environment(settings: Settings, **env: str) -> dict[str, str]:
    """This process's environment pointed at the test's broker, topic prefix and database.

    Keyword arguments are further environment variables.
    """
    return (
        os.environ
        | {
            "DATABASE_URL": settings.sqlalchemy_url,
            "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
            "KAFKA_TOPIC_PARTITIONS": str(settings.kafka_topic_partitions),
            "LOG_FORMAT": "text",
        }
        | env
    )


def streamjobs(
    settings: Settings, *args: str, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``streamjobs ARGS`` with the test's broker, topic prefix and database.

    Keyword arguments are further environment variables.
    """
    return subprocess.run(
        [STREAMJOBS, *args],
        env=environment(settings, **env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def spawn(settings: Settings, *args: str, stderr: Path, **env: str) -> subprocess.Popen[bytes]:
    """Start ``streamjobs ARGS`` in the background, its stderr appended to the file ``stderr``."""
    with stderr.open("ab") as log:
        return subprocess.Popen(
            [STREAMJOBS, *args], env=environment(settings, **env), stderr=log, stdout=log
        )

"""``streamjobs scheduler`` as a process: it serves, stops on SIGTERM with 0, refuses bad binds."""

from __future__ import annotations

import re
import signal
import socket
import urllib.request
from pathlib import Path

from schemas.topics import AUDIT_CLEANUP
from streamjobs.kafka import create_topics, topic_set
from streamjobs.settings import Settings
from tests.kafka_support import wait_until
from tests.streamjobs.cli.support import spawn, streamjobs

LISTENING = re.compile(r"scheduler listening host=\S+ port=(\d+)")


def test_it_serves_healthz_and_exits_0_on_sigterm(settings: Settings, tmp_path: Path) -> None:
    create_topics(settings, [topic_set(settings, AUDIT_CLEANUP)])
    log = tmp_path / "scheduler.log"
    process = spawn(settings, "scheduler", stderr=log, SCHEDULER_HTTP_PORT="0")
    try:
        wait_until(lambda: LISTENING.search(log.read_text()) is not None, timeout=30)
        match = LISTENING.search(log.read_text())
        assert match is not None
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"http://127.0.0.1:{match[1]}/healthz", timeout=10) as answer:
            assert answer.status == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_non_loopback_bind_without_cron_secret_exits_2_with_one_line(
    settings: Settings,
) -> None:
    done = streamjobs(settings, "scheduler", SCHEDULER_HTTP_HOST="0.0.0.0")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "CRON_SECRET" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_port_in_use_exits_1_with_one_line(settings: Settings) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        done = streamjobs(settings, "scheduler", SCHEDULER_HTTP_PORT=port)
    assert done.returncode == 1
    (line,) = [line for line in done.stderr.splitlines() if "error" in line]
    assert f"cannot listen on 127.0.0.1:{port}" in line
    assert "Traceback" not in done.stderr

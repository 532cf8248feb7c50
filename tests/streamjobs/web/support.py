"""Test support for the job view: a scripted webhook receiver and the processes under test.

The receiver is a real HTTP server on 127.0.0.1 whose answer depends on the
request's path, so each test's endpoint can fail or succeed on cue. The
view and the consumers run as ``streamjobs web`` and ``streamjobs consume
all`` subprocesses, against the test's broker, topic prefix and database.
"""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from streamjobs.settings import Settings
from tests.streamjobs.cli.support import STREAMJOBS, environment

SERVING = re.compile(r"serving (http://\S+/)")
"""The line ``streamjobs web`` prints once it listens."""

START_TIMEOUT = 60.0
"""Seconds a subprocess may take to start listening."""


@dataclass
class Hooks:
    """What the receiver answers per path (200 unless set), and the ``webhook-id`` of
    every request it answered, per path."""

    status: dict[str, int] = field(default_factory=dict)
    received: dict[str, list[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answered(self, path: str, status: int) -> list[str]:
        """The ``webhook-id`` of each request to ``path`` answered with ``status``, in order."""
        with self.lock:
            return list(self.received.get(f"{path} {status}", []))


@contextlib.contextmanager
def receiving() -> Iterator[tuple[Hooks, int]]:
    """A receiver on an ephemeral port of 127.0.0.1; yields its script and its port."""
    hooks = Hooks()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            status = hooks.status.get(self.path, 200)
            with hooks.lock:
                hooks.received.setdefault(f"{self.path} {status}", []).append(
                    self.headers.get("webhook-id", "")
                )
            body = b"nope" if status >= 400 else b"ok"
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="receiver", daemon=True)
    thread.start()
    try:
        yield hooks, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def process(
    settings: Settings, *args: str, log: Path, **env: str
) -> Iterator[subprocess.Popen[str]]:
    """``streamjobs ARGS`` running for the block, stopped by SIGTERM; output appended to ``log``."""
    with log.open("a") as sink:
        child = subprocess.Popen(
            [STREAMJOBS, *args],
            env=environment(settings, **env),
            stdout=subprocess.PIPE,
            stderr=sink,
            text=True,
        )
    try:
        yield child
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(60)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            raise AssertionError(f"streamjobs {' '.join(args)} ignored SIGTERM for 60 s") from None


def served_url(child: subprocess.Popen[str]) -> str:
    """The base URL ``streamjobs web`` printed; fails when it exits or prints something else."""
    assert child.stdout is not None
    result: list[str] = []

    def read() -> None:
        assert child.stdout is not None
        line = child.stdout.readline()
        if match := SERVING.search(line):
            result.append(match[1])

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(START_TIMEOUT)
    assert result, f"streamjobs web did not start (exit status {child.poll()})"
    return result[0]

"""A local HTTP server standing in for Sentry's ingest: it keeps every envelope posted to it."""

from __future__ import annotations

import contextlib
import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PROJECT = 42
"""The project id of the inbox's DSN; envelopes arrive at ``/api/42/envelope/``."""


class SentryInbox(ThreadingHTTPServer):
    """A local HTTP endpoint that keeps every envelope body posted to it."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _EnvelopeHandler)
        self.envelopes: list[str] = []

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self.server_address[1]}/{PROJECT}"

    def items(self, kind: str) -> list[dict[str, Any]]:
        """The payloads of every envelope item of type ``kind`` (such as ``check_in``), in order."""
        found = []
        for envelope in list(self.envelopes):
            lines = envelope.splitlines()[1:]  # the first line is the envelope header
            for header, payload in zip(lines[::2], lines[1::2], strict=False):
                if json.loads(header).get("type") == kind:
                    found.append(json.loads(payload))
        return found


class _EnvelopeHandler(BaseHTTPRequestHandler):
    server: SentryInbox

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        if self.path == f"/api/{PROJECT}/envelope/":
            self.server.envelopes.append(body.decode())
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads the envelopes, not an access log."""


@contextlib.contextmanager
def receiving_sentry() -> Iterator[SentryInbox]:
    """A running inbox for the duration of the block."""
    inbox = SentryInbox()
    thread = threading.Thread(target=inbox.serve_forever, daemon=True)
    thread.start()
    try:
        yield inbox
    finally:
        inbox.shutdown()
        inbox.server_close()

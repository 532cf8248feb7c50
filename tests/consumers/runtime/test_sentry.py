"""Fatal and exhausted failures reach Sentry, without the payload."""

from __future__ import annotations

import gzip
import json
import signal
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from schemas.topics import TopicSet
from streamjobs.settings import Settings
from tests.consumers.runtime.conftest import ProbeProcess
from tests.kafka_support import produce, wait_until


class SentryInbox(ThreadingHTTPServer):
    """A local HTTP endpoint that keeps every envelope body posted to it."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _EnvelopeHandler)
        self.envelopes: list[str] = []

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self.server_address[1]}/42"


class _EnvelopeHandler(BaseHTTPRequestHandler):
    server: SentryInbox

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        if self.path == "/api/42/envelope/":
            self.server.envelopes.append(body.decode())
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads the envelopes, not an access log."""


@pytest.fixture
def sentry_inbox() -> Iterator[SentryInbox]:
    inbox = SentryInbox()
    thread = threading.Thread(target=inbox.serve_forever, daemon=True)
    thread.start()
    yield inbox
    inbox.shutdown()


def test_a_fatal_failure_is_reported_to_sentry_without_the_payload(
    settings: Settings,
    probe_topics: TopicSet,
    probe_process: Callable[..., ProbeProcess],
    sentry_inbox: SentryInbox,
) -> None:
    secret = "sk_live_do_not_leak"
    produce(
        settings,
        probe_topics.main,
        [json.dumps({"id": 9, "fatal": True}).encode()],
        headers=[("authorization", secret.encode())],
    )
    probe = probe_process(SENTRY_DSN=sentry_inbox.dsn).start()
    wait_until(lambda: any("probe 9 is fatal" in e for e in sentry_inbox.envelopes), timeout=60)
    probe.signal(signal.SIGTERM)
    assert probe.wait() == 0
    (report,) = [e for e in sentry_inbox.envelopes if "probe 9 is fatal" in e]
    event = json.loads(report.splitlines()[2])
    assert event["tags"]["error_kind"] == "fatal"
    assert event["tags"]["topic"] == probe_topics.main
    assert secret not in report
    assert '"fatal": true' not in report

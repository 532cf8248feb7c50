"""The fake Resend API of the tests in a process of its own, for the soak.

Run it as ``.venv/bin/python bench/fake_resend.py [--delay 0.005]``. It serves
``tests/consumers/email/fake_resend.py`` (``POST /emails``, ``POST
/emails/batch``, idempotency keys, key ``re_test_key``, no rate limit) on an
ephemeral port of 127.0.0.1, and on a second one ``GET /sent``: ``{subject:
count}`` of every email it accepted (a replayed idempotency key is not
accepted again, so a count over 1 is an email sent twice). It prints ``PORT
<api> <log>`` on stdout once both listen, and runs until it is terminated.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.consumers.email.fake_resend import FakeResend, serving


def log_server(fake: FakeResend) -> ThreadingHTTPServer:
    """``GET /sent`` on an ephemeral port of 127.0.0.1, in a thread of its own."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(dict(fake.sent_subjects())).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the soak polls every two seconds."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, name="sent-log", daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.005, help="seconds per answer")
    args = parser.parse_args()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with serving(FakeResend(delay=args.delay)) as fake:
        server = log_server(fake)
        api_port = fake.url.rsplit(":", 1)[1]
        print(f"PORT {api_port} {server.server_address[1]}", flush=True)
        stopped.wait()
        server.shutdown()


if __name__ == "__main__":
    main()

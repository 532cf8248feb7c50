"""A webhook receiver for benchmarks: answers every POST with 200 after a fixed delay.

Run in a process of its own, so it never competes with the client for the GIL::

    .venv/bin/python bench/receiver.py [--delay 0.020]

It prints ``PORT <n>`` on stdout once it listens on 127.0.0.1. HTTP/1.1 with
keep-alive, requests framed by ``Content-Length`` (no chunked bodies). Built
on ``asyncio.Protocol`` rather than streams, so parsing costs a few
microseconds per request and its CPU is far from the bottleneck. Its pace is
not: its loop sleeps in whole milliseconds, so a request is held 20.5 ms on
average for a delay of 20, and at 100 in flight no client gets past about
4,500 answers/s here (``bench_webhooks.py``'s (d), the job's client alone).

Every request except the two below is answered ``200 ok`` after the delay,
and counted when its answer is written:

- ``GET /stats``: ``{"count", "first", "last", "peak"}``, the answers written
  since the last reset, the ``time.perf_counter()`` of the first and the last,
  and the most requests that waited for their answer at once (the client's
  real concurrency);
- ``POST /reset``: sets the count and the peak back to zero.

- ``GET /log``: ``{webhook-id: [status, ...]}``, every counted answer by the
  request's ``webhook-id`` header, in order (the soak compares it with the
  delivery log);
- ``GET /arrivals``: ``{webhook-id: [epoch seconds, ...]}``, when each request
  came in (its head was parsed), in order (latency and retry lateness).

None of them is counted or delayed. With ``--fail-rate R`` a counted request
gets ``503`` with probability ``R`` (drawn per request from ``--seed``); with
``--fail-first`` the first request of each ``webhook-id`` gets ``503``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from dataclasses import dataclass, field

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
"""What every counted request gets."""

UNAVAILABLE = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nContent-Type: text/plain\r\n\r\nbusy"
)
"""What a request drawn to fail gets."""

HEAD_END = b"\r\n\r\n"


@dataclass
class Stats:
    """Answers written since the last reset, and when the first and the last went out."""

    count: int = 0
    first: float = 0.0
    last: float = 0.0
    log: dict[str, list[int]] = field(default_factory=dict)
    arrivals: dict[str, list[float]] = field(default_factory=dict)
    waiting: int = 0
    peak: int = 0

    def arrived(self) -> None:
        """A counted request came in: one more waiting for its answer."""
        self.waiting += 1
        self.peak = max(self.peak, self.waiting)

    def record(self, webhook_id: str, status: int) -> None:
        self.log.setdefault(webhook_id, []).append(status)
        now = time.perf_counter()
        if self.count == 0:
            self.first = now
        self.count += 1
        self.last = now


def header(head: bytes, name: bytes) -> bytes | None:
    """The value of header ``name`` (lower case, with its colon) in a request head."""
    lowered = head.lower()
    start = lowered.find(b"\r\n" + name)
    if start < 0:
        return None
    start += len(name) + 2
    end = lowered.find(b"\r\n", start)
    return head[start : end if end >= 0 else len(head)].strip()


def content_length(head: bytes) -> int:
    """The ``Content-Length`` of a request head (0 when absent)."""
    return int(header(head, b"content-length:") or 0)


def reply(body: bytes) -> bytes:
    """An immediate JSON answer (used by the control paths)."""
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"Content-Type: application/json\r\n\r\n" + body


class HookProtocol(asyncio.Protocol):
    """One keep-alive connection: parse requests, answer each after ``delay`` seconds."""

    def __init__(
        self, stats: Stats, delay: float, fail_rate: float, rng: random.Random, fail_first: bool
    ) -> None:
        self._stats = stats
        self._delay = delay
        self._fail_rate = fail_rate
        self._fail_first = fail_first
        self._rng = rng
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(HEAD_END)) >= 0:
            head = bytes(self._buffer[:end])
            total = end + len(HEAD_END) + content_length(head)
            if len(self._buffer) < total:
                return
            del self._buffer[:total]
            self._dispatch(head)

    def _dispatch(self, head: bytes) -> None:
        path = head.split(b" ", 2)[1]
        stats = self._stats
        if path == b"/stats":
            summary = {
                "count": stats.count,
                "first": stats.first,
                "last": stats.last,
                "peak": stats.peak,
            }
            self._write(reply(json.dumps(summary).encode()))
        elif path == b"/log":
            self._write(reply(json.dumps(stats.log).encode()))
        elif path == b"/arrivals":
            self._write(reply(json.dumps(stats.arrivals).encode()))
        elif path == b"/reset":
            self._stats.count = self._stats.peak = 0
            self._write(reply(b"{}"))
        else:
            webhook_id = (header(head, b"webhook-id:") or b"").decode(errors="replace")
            arrivals = stats.arrivals.setdefault(webhook_id, [])
            arrivals.append(time.time())
            first = len(arrivals) == 1
            failed = self._rng.random() < self._fail_rate or (self._fail_first and first)
            status = 503 if failed else 200
            stats.arrived()
            # Answers of one connection share the delay, so they leave in order.
            self._loop.call_later(self._delay, self._answer, webhook_id, status)

    def _answer(self, webhook_id: str, status: int) -> None:
        self._stats.waiting -= 1
        if self._write(ANSWER if status == 200 else UNAVAILABLE):
            self._stats.record(webhook_id, status)

    def _write(self, data: bytes) -> bool:
        if self._transport is None or self._transport.is_closing():
            return False
        self._transport.write(data)
        return True


async def serve(delay: float, port: int, fail_rate: float, seed: int, fail_first: bool) -> None:
    """Listen on 127.0.0.1:``port`` (0: any free port), print the port, serve forever."""
    stats = Stats()
    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: HookProtocol(stats, delay, fail_rate, rng, fail_first),
        "127.0.0.1",
        port,
        backlog=1024,
    )
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.020, help="seconds before each answer")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--fail-rate", type=float, default=0.0, help="share answered 503")
    parser.add_argument("--seed", type=int, default=0, help="seed of the 503 draws")
    parser.add_argument("--fail-first", action="store_true", help="503 to each id's first request")
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.delay, args.port, args.fail_rate, args.seed, args.fail_first))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()

"""A webhook receiver for benchmarks: answers every POST with 200 after a fixed delay.

Run in a process of its own, so it never competes with the client for the GIL::

    .venv/bin/python bench/receiver.py [--delay 0.020]

It prints ``PORT <n>`` on stdout once it listens on 127.0.0.1. HTTP/1.1 with
keep-alive, requests framed by ``Content-Length`` (no chunked bodies). Built
on ``asyncio.Protocol`` rather than streams, so parsing costs a few
microseconds per request and the receiver stays far from being the bottleneck.

Every request except the two below is answered ``200 ok`` after the delay,
and counted when its answer is written:

- ``GET /stats``: ``{"count", "first", "last"}``, the answers written since the
  last reset and the ``time.perf_counter()`` of the first and the last;
- ``POST /reset``: sets the count back to zero.

Neither is counted or delayed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import asdict, dataclass

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
"""What every counted request gets."""

HEAD_END = b"\r\n\r\n"


@dataclass
class Stats:
    """Answers written since the last reset, and when the first and the last went out."""

    count: int = 0
    first: float = 0.0
    last: float = 0.0

    def record(self) -> None:
        now = time.perf_counter()
        if self.count == 0:
            self.first = now
        self.count += 1
        self.last = now


def content_length(head: bytes) -> int:
    """The ``Content-Length`` of a request head (0 when absent)."""
    lowered = head.lower()
    start = lowered.find(b"\r\ncontent-length:")
    if start < 0:
        return 0
    start += len(b"\r\ncontent-length:")
    end = lowered.find(b"\r\n", start)
    return int(lowered[start : end if end >= 0 else len(lowered)])


def reply(body: bytes) -> bytes:
    """An immediate JSON answer (used by the control paths)."""
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"Content-Type: application/json\r\n\r\n" + body


class HookProtocol(asyncio.Protocol):
    """One keep-alive connection: parse requests, answer each after ``delay`` seconds."""

    def __init__(self, stats: Stats, delay: float) -> None:
        self._stats = stats
        self._delay = delay
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
            self._dispatch(head.split(b" ", 2)[1])

    def _dispatch(self, path: bytes) -> None:
        if path == b"/stats":
            self._write(reply(json.dumps(asdict(self._stats)).encode()))
        elif path == b"/reset":
            self._stats.count = 0
            self._write(reply(b"{}"))
        else:
            # Answers of one connection share the delay, so they leave in order.
            self._loop.call_later(self._delay, self._answer)

    def _answer(self) -> None:
        if self._write(ANSWER):
            self._stats.record()

    def _write(self, data: bytes) -> bool:
        if self._transport is None or self._transport.is_closing():
            return False
        self._transport.write(data)
        return True


async def serve(delay: float, port: int) -> None:
    """Listen on 127.0.0.1:``port`` (0: any free port), print the port, serve forever."""
    stats = Stats()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: HookProtocol(stats, delay), "127.0.0.1", port, backlog=1024
    )
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.020, help="seconds before each answer")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.delay, args.port))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()

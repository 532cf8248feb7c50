"""Test support: real HTTP receivers on 127.0.0.1 and a receiver-side verifier.

The verifier is written from the Standard Webhooks spec on purpose, without
the project's signing code, so a bug shared by signer and verifier cannot
hide. The receiver is a small asyncio HTTP/1.1 server so a test can count
TCP connections (to prove the guard sent no packet) and script each answer.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

TOLERANCE_S = 300
"""A receiver rejects timestamps further than this from its clock (the spec's 5 minutes)."""


def verify(secret: str, headers: dict[str, str], body: bytes, *, now: float | None = None) -> bool:
    """True when a ``v1`` signature in ``headers`` matches ``secret`` and the timestamp is fresh.

    Args:
        secret: ``whsec_<base64>``.
        headers: request headers, names in lower case.
        body: the raw request body.
        now: the receiver's clock, Unix seconds; default the current time.
    """
    msg_id, stamp = headers["webhook-id"], headers["webhook-timestamp"]
    current = time.time() if now is None else now
    if abs(current - int(stamp)) > TOLERANCE_S:
        return False
    key = base64.b64decode(secret.split("_", 1)[1])
    signed = msg_id.encode() + b"." + stamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
    for candidate in headers["webhook-signature"].split(" "):
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected):
            return True
    return False


@dataclass(frozen=True)
class Answer:
    """What a receiver answers: status, headers, body, after ``delay`` seconds."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0


OK = Answer()
"""200 with body ``ok`` at once."""


@dataclass(frozen=True)
class Received:
    """One request as the receiver read it; header names in lower case."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class LocalServer:
    """A server on an ephemeral port of 127.0.0.1, each connection served in a task.

    Subclasses write ``_serve``; leaving the context closes the server and
    cancels the connections still served.

    Args:
        tls: serve TLS with this context; default plain TCP.

    Attributes:
        connections: TCP connections accepted so far.
        requests: requests read so far.
    """

    HANGUPS: tuple[type[BaseException], ...] = (ConnectionError, asyncio.IncompleteReadError)
    """What a client that went away (as one that timed out does) raises while served."""

    def __init__(self, *, tls: ssl.SSLContext | None = None) -> None:
        self.connections = 0
        self.requests: list[Received] = []
        self._tls = tls
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        """The port it listens on."""
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(
            self._on_connection, "127.0.0.1", 0, ssl=self._tls
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except self.HANGUPS:
            self._hung_up()
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    def _hung_up(self) -> None:
        """The client went away while served."""


class Receiver(LocalServer):
    """An HTTP/1.1 server on an ephemeral port of 127.0.0.1.

    Args:
        answer: the answer to every request, or a function of the request.

    Attributes:
        secret: when set, requests failing ``verify`` get 401. Set after
            creation, since an endpoint's secret exists once it is registered.
        most_waiting: the most requests that waited for their answer at once.
    """

    def __init__(self, answer: Answer | Callable[[Received], Answer] = Answer()) -> None:
        super().__init__()
        self._answer = answer
        self.secret: str | None = None
        self.most_waiting = 0
        self._waiting = 0

    def url(self, host: str = "127.0.0.1", path: str = "/hook") -> str:
        """Its URL, through ``host``."""
        return f"http://{host}:{self.port}{path}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (request := await read_request(reader)) is not None:
            self.requests.append(request)
            self._waiting += 1
            self.most_waiting = max(self.most_waiting, self._waiting)
            try:
                await self._respond(writer, self._choose(request))
            finally:
                self._waiting -= 1

    def _choose(self, request: Received) -> Answer:
        if self.secret is not None and not verify(self.secret, request.headers, request.body):
            return Answer(status=401, body=b"bad signature")
        return self._answer(request) if callable(self._answer) else self._answer

    @staticmethod
    async def _respond(writer: asyncio.StreamWriter, answer: Answer) -> None:
        await asyncio.sleep(answer.delay)
        head = [f"HTTP/1.1 {answer.status} X", f"Content-Length: {len(answer.body)}"]
        head += [f"{name}: {value}" for name, value in answer.headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + answer.body)
        await writer.drain()


async def read_request(reader: asyncio.StreamReader) -> Received | None:
    """The next request on ``reader``, or None at its end."""
    line = await reader.readline()
    if not line:
        return None
    method, path, _ = line.decode().split(" ", 2)
    headers: dict[str, str] = {}
    while (header := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = header.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Received(method, path, headers, body)

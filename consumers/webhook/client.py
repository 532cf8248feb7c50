"""The one pooled HTTP client that sends every webhook of a process.

A small HTTP/1.1 client of our own (``consumers.webhook.http1``), chosen by
measurement: aiohttp's request path was 45 % of a webhook process's
interpreter time, and POSTing a body with a few fixed headers needs little of
it (README, "Benchmarks"). What it keeps of the delivery contract:

- the network guard judges every address of the host (``guard``), and the
  connection goes to exactly those addresses, never to a second lookup; the
  ``Host`` header and the TLS server name are the URL's host;
- ``connect_timeout`` bounds TCP and TLS set-up, ``timeout`` the whole
  exchange from its turn (waiting for the connection included);
- at most ``connections`` POSTs are in flight; the next one's turn comes
  from the callback that ended an exchange, and its request is written
  there and then, on the connection just freed when it goes to the same
  host: no loop turn passes while a POST could be sent (``Turn``);
- redirects are answers like any other (never followed), no proxy is read
  from the environment, the body kept is bounded (``EXCERPT_BYTES``).

Failures, drawn as a tree::

    WebhookClientError          http1: no usable answer (E_CONNECT unless said)
    +-- AnswerError             http1: the answer broke HTTP/1.1 or broke off
    +-- InvalidURLError         the URL cannot be sent to (fatal E_INVALID_URL)
    +-- HostNotFoundError       the host name did not resolve (E_DNS)
    +-- ConnectFailedError      no address of the host took the connection
    TimeoutError                connect or total timeout (E_TIMEOUT)
    BlockedTargetError          guard: a refused address; nothing was sent
"""

from __future__ import annotations

import asyncio
import base64
import collections
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from yarl import URL

from consumers.webhook.guard import canonical_address, check_address, check_addresses
from consumers.webhook.http1 import (
    EXCERPT_BYTES,
    AnswerError,
    Connection,
    Reply,
    WebhookClientError,
    request_head,
)
from streamjobs.settings import Settings

__all__ = [
    "EXCERPT_BYTES",
    "AnswerError",
    "ConnectFailedError",
    "HostNotFoundError",
    "InvalidURLError",
    "Reply",
    "WebhookClient",
    "WebhookClientError",
    "open_client",
]

USER_AGENT = "streamjobs-webhooks/0.1"
"""The ``User-Agent`` of every delivery."""

KEEPALIVE = 4.0
"""Seconds a connection may sit idle before we close it: below the 5 s of Node's
servers, so the client, not the receiver, ends an idle connection."""

TARGETS_CACHED = 1024
"""Parsed URLs kept: one per endpoint in use."""

Resolve = Callable[[str, int], Awaitable[list[str]]]
"""Looks up a host name and port; gives its addresses in the order to try."""


class InvalidURLError(WebhookClientError):
    """The endpoint's URL cannot be sent to: another scheme, no host, a bad port or address."""


class HostNotFoundError(WebhookClientError):
    """The host name did not resolve.

    Args:
        host: the name.
    """

    def __init__(self, host: str) -> None:
        super().__init__(f"cannot resolve {host}")
        self.host = host


class ConnectFailedError(WebhookClientError):
    """No address of the host accepted a connection (or its TLS handshake failed).

    Args:
        host: the URL's host.
        port: the port.
        cause: the error of the last address tried.
    """

    def __init__(self, host: str, port: int, cause: OSError) -> None:
        reason = cause.strerror or type(cause).__name__
        super().__init__(f"cannot connect to {host}:{port}: {reason}")
        self.host = host
        self.port = port


@dataclass(frozen=True, slots=True)
class Target:
    """Where a URL's requests go, read once per URL.

    Args:
        tls: https.
        host: the host as connected to: IDNA-encoded name, or the canonical
            address of a numeric host.
        port: the port, explicit or the scheme's.
        literal: whether ``host`` is an address (no lookup).
        written_host: the host as the URL spells it, for messages.
        host_header: the ``Host`` header.
        path: the request target (path and query, percent-encoded).
        authorization: ``Basic`` credentials from the URL's user info, if any.
    """

    tls: bool
    host: str
    port: int
    literal: bool
    written_host: str
    host_header: str
    path: str
    authorization: str | None


@lru_cache(maxsize=TARGETS_CACHED)
def parse_target(url: str) -> Target:
    """Read ``url`` into a ``Target``.

    Raises:
        InvalidURLError: not an http(s) URL with a host, or a numeric host
            that is no address.
    """
    try:
        parsed = URL(url)
        host, port = parsed.raw_host, parsed.port
        address = canonical_address(host or "")
    except ValueError:
        raise InvalidURLError("the endpoint URL is not valid") from None
    if parsed.scheme not in ("http", "https") or not host or port is None:
        raise InvalidURLError("the endpoint URL is not valid")
    written_host = host
    if address is not None:
        host = str(address)
    named = f"[{host}]" if address is not None and address.version == 6 else host
    default_port = 443 if parsed.scheme == "https" else 80
    authorization = None
    if parsed.user is not None:
        pair = f"{parsed.user}:{parsed.password or ''}".encode()
        authorization = "Basic " + base64.b64encode(pair).decode()
    return Target(
        tls=parsed.scheme == "https",
        host=host,
        port=port,
        literal=address is not None,
        written_host=written_host,
        host_header=named if port == default_port else f"{named}:{port}",
        path=parsed.raw_path_qs or "/",
        authorization=authorization,
    )


async def system_resolve(host: str, port: int) -> list[str]:
    """The addresses ``getaddrinfo`` gives for ``host``, each once, in its order.

    Raises:
        HostNotFoundError: the lookup failed.
    """
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise HostNotFoundError(host) from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


PoolKey = tuple[str, int, bool]
"""Connections are shared by host, port and TLS."""

TurnState = Literal["waiting", "granted", "sent", "over"]
"""Where a POST is; see ``Turn``."""


class Turn:
    """One POST, from its wait for a turn to the end of its exchange.

    Its states::

        waiting   queued: ``connections`` POSTs are in flight
        granted   counted in flight; no idle connection was at hand, so the
                  calling task opens one
        sent      its request is written on ``connection``
        over      the exchange ended (or the POST gave up) and its turn is back

    Args:
        target: where it goes.
        head: the request line and headers.
        body: the body.
        on_turn: called once, when its turn comes.
    """

    __slots__ = (
        "answer",
        "body",
        "connection",
        "deadline",
        "granted",
        "head",
        "on_turn",
        "state",
        "target",
    )

    def __init__(
        self, target: Target, head: bytes, body: bytes, on_turn: Callable[[], None] | None
    ) -> None:
        self.target = target
        self.head = head
        self.body = body
        self.on_turn = on_turn
        self.state: TurnState = "waiting"
        self.deadline = 0.0
        """Loop time by which the answer must be in; set when the turn comes."""
        self.granted: asyncio.Future[None] | None = None
        """What a queued POST awaits; None for one whose turn came at once."""
        self.connection: Connection | None = None
        self.answer: asyncio.Future[Reply] | None = None


class WebhookClient:
    """Posts webhook bodies over pooled keep-alive connections; never follows redirects.

    Args:
        guard: judge every address before connecting (off with
            ``WEBHOOK_ALLOW_PRIVATE_NETWORKS``).
        connections: POSTs in flight at most, over all hosts (each holds a
            connection), and most idle connections kept.
        connect_timeout: seconds for TCP and TLS set-up.
        timeout: seconds for the whole exchange.
        resolve: the host name lookup; default ``system_resolve``.
        tls: the TLS context; default the system's trust store.
    """

    def __init__(
        self,
        *,
        guard: bool,
        connections: int,
        connect_timeout: float,
        timeout: float,
        resolve: Resolve = system_resolve,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._guard = guard
        self._connections = connections
        self._connect_timeout = connect_timeout
        self._timeout = timeout
        self._resolve = resolve
        self._tls = tls if tls is not None else ssl.create_default_context()
        self._idle: dict[PoolKey, list[Connection]] = {}
        self._idle_count = 0
        self._in_flight = 0
        self._queue: collections.deque[Turn] = collections.deque()
        self._closed = False

    async def post(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        on_turn: Callable[[], None] | None = None,
    ) -> Reply:
        """POST ``body`` to ``url`` once its turn comes, and return the answer.

        ``on_turn`` (default none) is called when the turn comes, before
        anything is sent; ``timeout`` counts from then. It must not raise.

        Raises:
            BlockedTargetError: the guard refused the target; nothing was sent.
            WebhookClientError, TimeoutError: no usable answer.
            ValueError: a header holds a line break.
        """
        target = parse_target(url)
        if self._guard and target.literal:
            check_address(target.written_host, target.host)
        fields = {"User-Agent": USER_AGENT, **headers}
        if target.authorization is not None:
            fields["Authorization"] = target.authorization
        head = request_head(
            host=target.host_header, path=target.path, content_length=len(body), headers=fields
        )
        turn = Turn(target, head, body, on_turn)
        try:
            if self._in_flight < self._connections:
                self._grant(turn)
            else:
                turn.granted = asyncio.get_running_loop().create_future()
                self._queue.append(turn)
                await turn.granted
            if turn.state == "granted":
                connection = await self._open(target, turn.deadline)
                if connection.state != "idle":  # the server spoke out of turn, or hung up, first
                    raise AnswerError("the connection closed before the request was sent")
                self._send(turn, connection)
            assert turn.answer is not None
            return await turn.answer
        finally:
            self._abandon(turn)

    def _grant(self, turn: Turn) -> None:
        """Count ``turn`` in flight, and send it at once on an idle connection, if any."""
        self._in_flight += 1
        turn.state = "granted"
        turn.deadline = asyncio.get_running_loop().time() + self._timeout
        if turn.on_turn is not None:
            turn.on_turn()
        connection = self._take_idle(turn.target)
        if connection is not None:
            self._send(turn, connection)

    def _send(self, turn: Turn, connection: Connection) -> None:
        turn.answer = connection.send(
            turn.head, turn.body, deadline=turn.deadline, on_done=lambda: self._over(turn)
        )
        turn.state = "sent"
        turn.connection = connection

    def _over(self, turn: Turn) -> None:
        """End ``turn``'s exchange: its connection back to the pool, its turn to the next."""
        turn.state = "over"
        if turn.connection is not None:
            self._release(turn.target, turn.connection)
        self._in_flight -= 1
        while self._queue and self._in_flight < self._connections:
            waiting = self._queue.popleft()
            granted = waiting.granted
            assert granted is not None
            # Skipped: a POST that gave up while queued, or was cancelled and has yet to hear it.
            if waiting.state == "waiting" and not granted.done():
                self._grant(waiting)
                granted.set_result(None)

    def _abandon(self, turn: Turn) -> None:
        """A POST that returns or raises: end whatever its turn still holds."""
        if turn.state == "waiting":  # cancelled in the queue; it is skipped there
            turn.state = "over"
        elif turn.state == "granted":  # no connection: nothing was sent
            self._over(turn)
        elif turn.state == "sent" and turn.answer is not None and turn.connection is not None:
            turn.answer.cancel()  # cut short: nobody reads its answer now
            turn.connection.close()  # its answer is unread; on_done ends the turn

    def _take_idle(self, target: Target) -> Connection | None:
        idle = self._idle.get((target.host, target.port, target.tls))
        expired = asyncio.get_running_loop().time() - KEEPALIVE
        while idle:
            connection = idle.pop()
            self._idle_count -= 1
            if connection.state == "idle" and connection.idle_since > expired:
                return connection
            connection.close()
        return None

    def _release(self, target: Target, connection: Connection) -> None:
        if connection.state != "idle":
            return
        if self._closed or self._idle_count >= self._connections:
            connection.close()
            return
        self._idle.setdefault((target.host, target.port, target.tls), []).append(connection)
        self._idle_count += 1

    async def _open(self, target: Target, deadline: float) -> Connection:
        async with asyncio.timeout_at(deadline):
            return await self._connect(target)

    async def _connect(self, target: Target) -> Connection:
        if target.literal:
            addresses = [target.host]
        else:
            addresses = await self._resolve(target.host, target.port)
            if self._guard:
                check_addresses(target.host, addresses)
        loop = asyncio.get_running_loop()
        failure: OSError = ConnectionRefusedError("no address")
        for address in addresses:
            try:
                async with asyncio.timeout(self._connect_timeout):
                    _, connection = await loop.create_connection(
                        Connection,
                        host=address,
                        port=target.port,
                        ssl=self._tls if target.tls else None,
                        server_hostname=target.host if target.tls else None,
                    )
                return connection
            except OSError as exc:
                failure = exc
        if isinstance(failure, TimeoutError):
            raise failure  # the connect timeout is a timeout (E_TIMEOUT), not a refusal
        raise ConnectFailedError(target.host, target.port, failure)

    def sweep(self) -> None:
        """Close connections idle for longer than ``KEEPALIVE``."""
        expired = asyncio.get_running_loop().time() - KEEPALIVE
        for idle in self._idle.values():
            stale = [c for c in idle if c.state != "idle" or c.idle_since <= expired]
            for connection in stale:
                idle.remove(connection)
                connection.close()
            self._idle_count -= len(stale)

    def close(self) -> None:
        """Close every idle connection; one in use closes when its request ends."""
        self._closed = True
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()
        self._idle_count = 0


@asynccontextmanager
async def open_client(
    settings: Settings, *, connections: int, resolve: Resolve = system_resolve
) -> AsyncIterator[WebhookClient]:
    """Open the process's client; close its connections on exit.

    Args:
        settings: ``webhook_connect_timeout`` (TCP and TLS), ``webhook_timeout``
            (the whole exchange) and ``webhook_allow_private_networks`` (turns
            the guard off).
        connections: POSTs in flight at most, and the pool's size: the job's concurrency.
        resolve: the host name lookup; default ``system_resolve``.
    """
    client = WebhookClient(
        guard=not settings.webhook_allow_private_networks,
        connections=connections,
        connect_timeout=settings.webhook_connect_timeout,
        timeout=settings.webhook_timeout,
        resolve=resolve,
    )
    sweeper = asyncio.create_task(_sweep_forever(client), name="webhook-connection-sweeper")
    try:
        yield client
    finally:
        sweeper.cancel()
        client.close()


async def _sweep_forever(client: WebhookClient) -> None:
    while True:
        await asyncio.sleep(KEEPALIVE)
        client.sweep()

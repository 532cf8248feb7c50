"""The webhook HTTP/1.1 client against real servers on 127.0.0.1.

``Receiver`` answers like a well-behaved receiver; ``RawServer`` writes
byte-exact answers to test framing, bounds and broken servers. Both count the
TCP connections they accept, which is how keep-alive is observed. Every
scenario runs on the default loop and on uvloop, the consumer's loop.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pytest
import uvloop

from consumers.webhook.client import (
    KEEPALIVE,
    USER_AGENT,
    ConnectFailedError,
    HostNotFoundError,
    InvalidURLError,
    Resolve,
    WebhookClient,
    parse_target,
    system_resolve,
)
from consumers.webhook.guard import BlockedTargetError
from consumers.webhook.http1 import EXCERPT_BYTES, HEAD_MAX_BYTES, AnswerError, Reply
from tests.consumers.webhook.receivers import (
    Answer,
    LocalServer,
    Received,
    Receiver,
    read_request,
)

TLS_NAME = "hooks.test"
"""The name the test certificate is issued for."""

OK_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
"""A framed keep-alive 200."""

_T = TypeVar("_T")


class Runner(Protocol):
    """Runs a coroutine on a fresh event loop: ``asyncio.run`` or ``uvloop.run``."""

    def __call__(self, main: Coroutine[Any, Any, _T], /) -> _T: ...


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Runner:
    """Each loop the client must work on."""
    runner: Runner = uvloop.run if request.param == "uvloop" else asyncio.run
    return runner


def client(
    *,
    guard: bool = False,
    connections: int = 4,
    connect_timeout: float = 5.0,
    timeout: float = 10.0,
    resolve: Resolve = system_resolve,
    tls: ssl.SSLContext | None = None,
) -> WebhookClient:
    """A client with the guard off, a pool of 4 and generous timeouts unless told otherwise."""
    return WebhookClient(
        guard=guard,
        connections=connections,
        connect_timeout=connect_timeout,
        timeout=timeout,
        resolve=resolve,
        tls=tls,
    )


def resolving_to(*addresses: str) -> Resolve:
    """A lookup that gives ``addresses`` for every name."""

    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


class RawServer(LocalServer):
    """A server on 127.0.0.1 that answers every request with scripted bytes.

    Args:
        pieces: the answer, written piece by piece with a pause between so
            each arrives in its own read; none: the server never answers.
        hang_up: close the connection after answering.
        tls: serve TLS with this context.

    Attributes:
        hangups: connections the client ended (EOF or reset while the server
            waited for a request).
    """

    HANGUPS = (ConnectionError, ssl.SSLError)

    def __init__(
        self, *pieces: bytes, hang_up: bool = False, tls: ssl.SSLContext | None = None
    ) -> None:
        super().__init__(tls=tls)
        self._pieces = pieces
        self._hang_up = hang_up
        self.hangups = 0

    def url(self, host: str = "127.0.0.1") -> str:
        """Its URL through ``host``."""
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://{host}:{self.port}/hook"

    async def hung_up(self, count: int) -> None:
        """Wait until the client has ended ``count`` connections."""
        async with asyncio.timeout(5):
            while self.hangups < count:
                await asyncio.sleep(0.01)

    def _hung_up(self) -> None:
        self.hangups += 1

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (request := await read_request(reader)) is not None:
            self.requests.append(request)
            if not self._pieces:
                await reader.read()  # silent until the client goes away
                break
            for number, piece in enumerate(self._pieces):
                if number:
                    await asyncio.sleep(0.05)
                writer.write(piece)
                await writer.drain()
            if self._hang_up:
                return
        self.hangups += 1


# The request


def test_a_post_carries_the_host_with_its_port_length_headers_user_agent_and_body(
    run: Runner,
) -> None:
    async def scenario() -> tuple[Reply, Received, int]:
        async with Receiver() as receiver:
            reply = await client().post(
                f"{receiver.url()}?topic=a%20b",
                b'{"n": 1}',
                {"Content-Type": "application/json", "webhook-id": "evt_1"},
            )
            return reply, receiver.requests[0], receiver.port

    reply, request, port = run(scenario())

    assert reply == Reply(status=200, retry_after=None, excerpt="ok")
    assert (request.method, request.path, request.body) == (
        "POST",
        "/hook?topic=a%20b",
        b'{"n": 1}',
    )
    assert request.headers == {
        "host": f"127.0.0.1:{port}",
        "content-length": "8",
        "user-agent": USER_AGENT,
        "content-type": "application/json",
        "webhook-id": "evt_1",
    }


def test_user_info_in_the_url_becomes_basic_authorization_and_leaves_host_and_path(
    run: Runner,
) -> None:
    async def scenario() -> tuple[Received, int]:
        async with Receiver() as receiver:
            url = f"http://hook-user:p%40ss@127.0.0.1:{receiver.port}/hook"
            await client().post(url, b"{}", {})
            return receiver.requests[0], receiver.port

    request, port = run(scenario())

    credentials = base64.b64encode(b"hook-user:p@ss").decode()
    assert request.headers["authorization"] == f"Basic {credentials}"
    assert (request.headers["host"], request.path) == (f"127.0.0.1:{port}", "/hook")


def test_the_answers_retry_after_is_kept_as_sent(run: Runner) -> None:
    async def scenario() -> Reply:
        async with Receiver(Answer(503, {"Retry-After": "120"}, b"busy")) as receiver:
            return await client().post(receiver.url(), b"{}", {})

    assert run(scenario()) == Reply(status=503, retry_after="120", excerpt="busy")


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Evil": "a\r\nX-Injected: 1"},
        {"X-Evil": "a\nb"},
        {"X-Evil": "a\0b"},
        {"X-Evil\r\nX-Injected": "1"},
    ],
)
def test_a_header_holding_a_line_break_or_nul_is_refused_and_nothing_is_sent(
    run: Runner, headers: dict[str, str]
) -> None:
    async def scenario() -> int:
        async with Receiver() as receiver:
            with pytest.raises(ValueError, match="X-Evil"):
                await client().post(receiver.url(), b"{}", headers)
            return receiver.connections

    assert run(scenario()) == 0


def test_a_large_body_arrives_whole(run: Runner) -> None:
    body = bytes(range(256)) * 4096  # 1 MiB, more than a socket buffer

    async def scenario() -> Received:
        async with Receiver() as receiver:
            await client().post(receiver.url(), body, {})
            return receiver.requests[0]

    request = run(scenario())

    assert (request.headers["content-length"], request.body) == (str(len(body)), body)


# Keep-alive


def test_sequential_posts_to_one_host_reuse_one_connection(run: Runner) -> None:
    async def scenario() -> tuple[int, int]:
        async with Receiver() as receiver:
            webhooks = client()
            for _ in range(3):
                assert (await webhooks.post(receiver.url(), b"{}", {})).status == 200
            return receiver.connections, len(receiver.requests)

    assert run(scenario()) == (1, 3)


def test_connection_close_from_the_server_means_a_new_connection_next_time(run: Runner) -> None:
    async def scenario() -> int:
        async with Receiver(Answer(headers={"Connection": "close"})) as receiver:
            webhooks = client()
            for _ in range(2):
                assert (await webhooks.post(receiver.url(), b"{}", {})).status == 200
            return receiver.connections

    assert run(scenario()) == 2


def test_the_pool_keeps_at_most_its_size_of_idle_connections(run: Runner) -> None:
    async def scenario() -> tuple[int, int, int]:
        async with RawServer(OK_ANSWER) as kept, RawServer(OK_ANSWER) as other:
            webhooks = client(connections=1)
            await webhooks.post(kept.url(), b"{}", {})
            await webhooks.post(other.url(), b"{}", {})
            await other.hung_up(1)  # its connection came back to a full pool
            await webhooks.post(kept.url(), b"{}", {})
            return kept.connections, other.connections, other.hangups

    assert run(scenario()) == (1, 1, 1)


def test_a_connection_idle_longer_than_keepalive_is_neither_reused_nor_kept() -> None:
    """One real wait of ``KEEPALIVE``: one client posts again, the other sweeps."""

    async def scenario() -> tuple[int, int]:
        async with RawServer(OK_ANSWER) as server:
            posting, sweeping = client(), client()
            for webhooks in (posting, sweeping):
                await webhooks.post(server.url(), b"{}", {})
            await asyncio.sleep(KEEPALIVE + 0.2)
            sweeping.sweep()
            await server.hung_up(1)
            await posting.post(server.url(), b"{}", {})
            await server.hung_up(2)  # the stale connection was closed, not left open
            return server.connections, server.hangups

    assert asyncio.run(scenario()) == (3, 2)


def test_close_closes_idle_connections(run: Runner) -> None:
    async def scenario() -> int:
        async with RawServer(OK_ANSWER) as server:
            webhooks = client()
            await webhooks.post(server.url(), b"{}", {})
            webhooks.close()
            await server.hung_up(1)
            return server.hangups

    assert run(scenario()) == 1


def test_close_leaves_a_connection_in_use_to_close_when_its_answer_is_in(run: Runner) -> None:
    async def scenario() -> tuple[Reply, int]:
        answer = (b"HTTP/1.1 200 OK\r\n", b"Content-Length: 2\r\n\r\nok")
        async with RawServer(*answer) as server:
            webhooks = client()
            posting = asyncio.ensure_future(webhooks.post(server.url(), b"{}", {}))
            while not server.requests:
                await asyncio.sleep(0.01)
            webhooks.close()
            reply = await posting
            await server.hung_up(1)
            return reply, server.hangups

    assert run(scenario()) == (Reply(status=200, retry_after=None, excerpt="ok"), 1)


# Framing


@pytest.mark.parametrize(
    ("pieces", "status", "excerpt"),
    [
        pytest.param((OK_ANSWER,), 200, "ok", id="content-length"),
        pytest.param(
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nchun\r\n",
                b"3\r\nked\r\n0\r\n\r\n",
            ),
            200,
            "chunked",
            id="chunked",
        ),
        pytest.param((b"HTTP/1.1 204 No Content\r\n\r\n",), 204, "", id="204-without-body"),
        pytest.param(
            (b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" + OK_ANSWER,),
            200,
            "ok",
            id="103-then-200-in-one-read",
        ),
        pytest.param(
            (b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n", OK_ANSWER),
            200,
            "ok",
            id="103-then-200-apart",
        ),
    ],
)
def test_a_framed_answer_is_read_whole_and_its_connection_reused(
    run: Runner, pieces: tuple[bytes, ...], status: int, excerpt: str
) -> None:
    async def scenario() -> tuple[list[Reply], int]:
        async with RawServer(*pieces) as server:
            webhooks = client()
            replies = [await webhooks.post(server.url(), b"{}", {}) for _ in range(2)]
            return replies, server.connections

    replies, connections = run(scenario())

    assert replies == [Reply(status=status, retry_after=None, excerpt=excerpt)] * 2
    assert connections == 1


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        pytest.param(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, id="http-1.0"),
        pytest.param(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
            101,
            id="101-upgrade",
        ),
        pytest.param(b"HTTP/1.1 101 Switching Protocols\r\n\r\n", 101, id="101-bare"),
    ],
)
def test_an_answer_that_ends_the_http_exchange_gives_its_status_and_a_new_connection_next_time(
    run: Runner, answer: bytes, status: int
) -> None:
    async def scenario() -> tuple[list[int], int]:
        async with RawServer(answer) as server:
            webhooks = client()
            replies = [await webhooks.post(server.url(), b"{}", {}) for _ in range(2)]
            return [reply.status for reply in replies], server.connections

    assert run(scenario()) == ([status, status], 2)


def test_a_body_without_framing_ends_where_the_server_closes(run: Runner) -> None:
    async def scenario() -> tuple[Reply, int]:
        answer = (b"HTTP/1.1 200 OK\r\n\r\nfirst part, ", b"second part")
        async with RawServer(*answer, hang_up=True) as server:
            webhooks = client()
            reply = await webhooks.post(server.url(), b"{}", {})
            await webhooks.post(server.url(), b"{}", {})
            return reply, server.connections

    reply, connections = run(scenario())

    assert reply.excerpt == "first part, second part"
    assert connections == 2


@pytest.mark.parametrize(
    "stray",
    [
        pytest.param((OK_ANSWER + b"HTTP/1.1 200 OK\r\n",), id="in-the-same-read"),
        pytest.param((OK_ANSWER, b"HTTP/1.1 200 OK\r\n"), id="while-idle"),
    ],
)
def test_bytes_after_a_complete_answer_make_the_connection_unusable(
    run: Runner, stray: tuple[bytes, ...]
) -> None:
    async def scenario() -> tuple[int, int]:
        async with RawServer(*stray) as server:
            webhooks = client()
            await webhooks.post(server.url(), b"{}", {})
            await server.hung_up(1)
            await webhooks.post(server.url(), b"{}", {})
            return server.connections, len(server.requests)

    assert run(scenario()) == (2, 2)


# Bounds and broken answers


@pytest.mark.parametrize(
    "framing",
    [
        pytest.param(lambda body: b"Content-Length: %d\r\n\r\n" % len(body) + body, id="length"),
        pytest.param(
            lambda body: b"Transfer-Encoding: chunked\r\n\r\n%x\r\n" % len(body) + body + b"\r\n",
            id="chunked",
        ),
    ],
)
def test_a_body_beyond_the_excerpt_is_cut_to_excerpt_bytes_and_its_connection_dropped(
    run: Runner, framing: Callable[[bytes], bytes]
) -> None:
    body = bytes(ord("a") + n % 26 for n in range(3 * EXCERPT_BYTES))

    async def scenario() -> tuple[Reply, int]:
        async with RawServer(b"HTTP/1.1 200 OK\r\n" + framing(body)) as server:
            webhooks = client()
            reply = await webhooks.post(server.url(), b"{}", {})
            await webhooks.post(server.url(), b"{}", {})
            return reply, server.connections

    reply, connections = run(scenario())

    assert reply.excerpt == body[:EXCERPT_BYTES].decode()
    assert connections == 2


def test_a_body_of_exactly_excerpt_bytes_is_kept_whole_and_its_connection_reused(
    run: Runner,
) -> None:
    body = b"b" * EXCERPT_BYTES

    async def scenario() -> tuple[Reply, int]:
        async with Receiver(Answer(body=body)) as receiver:
            webhooks = client()
            reply = await webhooks.post(receiver.url(), b"{}", {})
            await webhooks.post(receiver.url(), b"{}", {})
            return reply, receiver.connections

    reply, connections = run(scenario())

    assert reply.excerpt == body.decode()
    assert connections == 1


def test_invalid_utf8_and_nul_in_the_body_are_replaced(run: Runner) -> None:
    async def scenario() -> Reply:
        async with Receiver(Answer(body=b"bad \xff\xfe byte, nul \x00 end")) as receiver:
            return await client().post(receiver.url(), b"{}", {})

    assert run(scenario()).excerpt == "bad \ufffd\ufffd byte, nul \ufffd end"


def _filler(size: int) -> bytes:
    line = b"X-Filler: " + b"f" * 90 + b"\r\n"
    return line * (size // len(line) + 1)


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(
            b"HTTP/1.1 200 OK\r\n" + _filler(HEAD_MAX_BYTES) + b"Content-Length: 2\r\n\r\nok",
            id="complete",
        ),
        pytest.param(b"HTTP/1.1 200 OK\r\n" + _filler(2 * HEAD_MAX_BYTES), id="endless"),
    ],
)
def test_a_head_larger_than_head_max_bytes_fails_with_answer_error(
    run: Runner, head: bytes
) -> None:
    async def scenario() -> None:
        async with RawServer(head) as server:
            with pytest.raises(AnswerError, match="head"):
                await client().post(server.url(), b"{}", {})

    run(scenario())


def test_a_head_just_under_head_max_bytes_is_accepted_in_one_read_or_two(run: Runner) -> None:
    filler = _filler(HEAD_MAX_BYTES - 1024)
    half = len(filler) // 2

    async def scenario() -> list[Reply]:
        async with RawServer(
            b"HTTP/1.1 200 OK\r\n" + filler + b"Content-Length: 2\r\n\r\nok"
        ) as one:
            whole = await client().post(one.url(), b"{}", {})
        async with RawServer(
            b"HTTP/1.1 200 OK\r\n" + filler[:half], filler[half:] + b"Content-Length: 2\r\n\r\nok"
        ) as two:
            split = await client().post(two.url(), b"{}", {})
        return [whole, split]

    assert run(scenario()) == [Reply(status=200, retry_after=None, excerpt="ok")] * 2


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTX/1.1 200 OK\r\n\r\n",
        b"I am not HTTP\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: two\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok",
        b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
    ],
    ids=[
        "status-code",
        "protocol",
        "status-line",
        "length",
        "two-lengths",
        "length-and-chunked",
        "header-line",
    ],
)
def test_a_malformed_answer_fails_with_answer_error(run: Runner, answer: bytes) -> None:
    async def scenario() -> None:
        async with RawServer(answer) as server:  # the server stays connected
            with pytest.raises(AnswerError, match="malformed"):
                await client().post(server.url(), b"{}", {})

    run(scenario())


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", id="length"),
        pytest.param(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nabc", id="chunk"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-", id="head"),
    ],
)
def test_the_server_closing_before_the_answer_is_complete_fails_with_answer_error(
    run: Runner, answer: bytes
) -> None:
    async def scenario() -> None:
        async with RawServer(answer, hang_up=True) as server:
            with pytest.raises(AnswerError, match="closed before"):
                await client().post(server.url(), b"{}", {})

    run(scenario())


# TLS


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate for ``TLS_NAME`` and its key, as PEM files."""

    cert: Path
    key: Path

    def server_context(self, server_names: list[str | None]) -> ssl.SSLContext:
        """A server context that appends each handshake's SNI to ``server_names``."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)

        def note(_: ssl.SSLObject, name: str | None, __: ssl.SSLContext) -> None:
            server_names.append(name)

        context.sni_callback = note
        return context

    def trusting_context(self) -> ssl.SSLContext:
        """A client context that trusts this certificate only."""
        return ssl.create_default_context(cafile=self.cert)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A certificate made by ``openssl`` for this module."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-nodes", "-days", "2", "-subj", f"/CN={TLS_NAME}"),
            *("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
            *("-addext", f"subjectAltName=DNS:{TLS_NAME}", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return Certificate(cert, key)


def test_https_sends_the_urls_name_as_sni_and_host_to_the_resolved_address(
    run: Runner, certificate: Certificate
) -> None:
    server_names: list[str | None] = []

    async def scenario() -> tuple[Reply, Received, int]:
        tls = certificate.server_context(server_names)
        async with RawServer(OK_ANSWER, tls=tls) as server:
            webhooks = client(resolve=resolving_to("127.0.0.1"), tls=certificate.trusting_context())
            reply = await webhooks.post(server.url(TLS_NAME), b"{}", {})
            return reply, server.requests[0], server.port

    reply, request, port = run(scenario())

    assert reply.excerpt == "ok"
    assert server_names == [TLS_NAME]
    assert request.headers["host"] == f"{TLS_NAME}:{port}"


def test_a_certificate_the_client_does_not_trust_fails_to_connect(
    run: Runner, certificate: Certificate
) -> None:
    async def scenario() -> int:
        async with RawServer(OK_ANSWER, tls=certificate.server_context([])) as server:
            webhooks = client(resolve=resolving_to("127.0.0.1"))  # the system's trust store
            with pytest.raises(ConnectFailedError, match=f"{TLS_NAME}:{server.port}"):
                await webhooks.post(server.url(TLS_NAME), b"{}", {})
            return len(server.requests)

    assert run(scenario()) == 0


# Addresses


def _refuses(address: str, port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex((address, port)) != 0


def test_the_client_moves_on_to_the_next_address_when_one_refuses(run: Runner) -> None:
    async def scenario() -> tuple[int, int]:
        async with RawServer(OK_ANSWER) as server:
            assert _refuses("127.0.0.2", server.port)
            webhooks = client(resolve=resolving_to("127.0.0.2", "127.0.0.1"))
            reply = await webhooks.post(server.url("hooks.example"), b"{}", {})
            return reply.status, server.connections

    assert run(scenario()) == (200, 1)


def test_every_address_refusing_is_connect_failed_naming_host_and_port(run: Runner) -> None:
    async def scenario() -> None:
        async with RawServer(OK_ANSWER) as server:
            assert _refuses("127.0.0.2", server.port) and _refuses("127.0.0.3", server.port)
            webhooks = client(resolve=resolving_to("127.0.0.2", "127.0.0.3"))
            with pytest.raises(ConnectFailedError, match=f"hooks.example:{server.port}"):
                await webhooks.post(server.url("hooks.example"), b"{}", {})

    run(scenario())


def test_a_lookup_failure_propagates_as_host_not_found(run: Runner) -> None:
    async def resolve(host: str, port: int) -> list[str]:
        raise HostNotFoundError(host)

    async def scenario() -> None:
        with pytest.raises(HostNotFoundError) as failed:
            await client(resolve=resolve).post("http://nowhere.example/hook", b"{}", {})
        assert failed.value.host == "nowhere.example"

    run(scenario())


def test_the_guard_refuses_a_name_resolving_to_loopback_before_any_connection(
    run: Runner,
) -> None:
    async def scenario() -> int:
        async with RawServer(OK_ANSWER) as server:
            webhooks = client(guard=True, resolve=resolving_to("127.0.0.1"))
            with pytest.raises(BlockedTargetError, match="loopback"):
                await webhooks.post(server.url("hooks.example"), b"{}", {})
            return server.connections

    assert run(scenario()) == 0


# Timeouts


def test_a_server_that_never_answers_times_out_and_its_connection_is_closed(
    run: Runner,
) -> None:
    async def scenario() -> int:
        async with RawServer() as server:
            with pytest.raises(TimeoutError):
                await client(timeout=0.5).post(server.url(), b"{}", {})
            await server.hung_up(1)
            return len(server.requests)

    assert run(scenario()) == 1


def test_the_timeout_of_a_finished_exchange_never_fires_on_its_idle_connection(
    run: Runner,
) -> None:
    async def scenario() -> tuple[int, int]:
        async with RawServer(OK_ANSWER) as server:
            webhooks = client(timeout=0.3)
            await webhooks.post(server.url(), b"{}", {})
            await asyncio.sleep(0.6)  # twice the timeout, well within KEEPALIVE
            await webhooks.post(server.url(), b"{}", {})
            return server.connections, server.hangups

    assert run(scenario()) == (1, 0)


def test_a_lookup_that_never_ends_is_bounded_by_the_total_timeout(run: Runner) -> None:
    async def resolve(host: str, port: int) -> list[str]:
        await asyncio.Event().wait()
        return []

    async def scenario() -> None:
        with pytest.raises(TimeoutError):
            await client(resolve=resolve, timeout=0.5).post("http://slow.example/", b"{}", {})

    run(scenario())


def test_a_tls_handshake_that_never_completes_times_out_at_the_connect_timeout(
    run: Runner,
) -> None:
    async def scenario(port: int) -> BaseException | None:
        webhooks = client(resolve=resolving_to("127.0.0.1"), connect_timeout=0.3, timeout=60.0)
        posting = asyncio.ensure_future(webhooks.post(f"https://{TLS_NAME}:{port}/", b"{}", {}))
        done, _ = await asyncio.wait({posting}, timeout=10)
        assert done, "the connect timeout did not end the handshake"
        return posting.exception()

    # The kernel completes the TCP handshake; nobody ever reads the ClientHello.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        error = run(scenario(silent.getsockname()[1]))

    assert isinstance(error, TimeoutError)


# Turns: at most ``connections`` POSTs in flight


def test_at_most_connections_posts_are_in_flight_and_the_others_reuse_their_connections(
    run: Runner,
) -> None:
    async def scenario() -> tuple[list[int], int, int]:
        async with Receiver(Answer(delay=0.05)) as receiver:
            webhooks = client(connections=2)
            replies = await asyncio.gather(
                *(webhooks.post(receiver.url(), b"{}", {}) for _ in range(5))
            )
            return [reply.status for reply in replies], receiver.most_waiting, receiver.connections

    assert run(scenario()) == ([200] * 5, 2, 2)


def test_a_waiting_post_is_sent_from_the_callback_that_ended_the_exchange_before_it(
    run: Runner,
) -> None:
    async def scenario() -> list[str]:
        async with Receiver(Answer(delay=0.05)) as receiver:
            webhooks = client(connections=1)
            seen: list[str] = []
            first = webhooks.post(receiver.url(), b"{}", {}, on_turn=lambda: seen.append("first"))
            second = asyncio.create_task(
                webhooks.post(receiver.url(), b"{}", {}, on_turn=lambda: seen.append("second"))
            )
            await first
            seen.append("first returned")  # its task resumes a loop turn after its answer
            await second
            return seen

    assert run(scenario()) == ["first", "second", "first returned"]


def test_the_timeout_counts_from_the_turn_not_from_the_wait_for_it(run: Runner) -> None:
    async def scenario() -> list[int]:
        async with Receiver(Answer(delay=0.3)) as receiver:
            webhooks = client(connections=1, timeout=0.5)
            posts = (webhooks.post(receiver.url(), b"{}", {}) for _ in range(2))
            return [reply.status for reply in await asyncio.gather(*posts)]

    assert run(scenario()) == [200, 200]


def test_a_post_cancelled_while_it_waits_is_never_sent_and_takes_no_turn(run: Runner) -> None:
    async def scenario() -> tuple[int, int, int]:
        async with Receiver(Answer(delay=0.1)) as receiver:
            webhooks = client(connections=1)
            first, cancelled, third = (
                asyncio.create_task(webhooks.post(receiver.url(), b"{}", {})) for _ in range(3)
            )
            await asyncio.sleep(0)  # all three have asked for a turn
            cancelled.cancel()
            replies = await asyncio.gather(first, third)
            assert cancelled.cancelled()
            return replies[0].status, replies[1].status, len(receiver.requests)

    assert run(scenario()) == (200, 200, 2)


def test_posts_cancelled_at_once_in_flight_and_waiting_leave_every_turn_free(
    run: Runner,
) -> None:
    async def scenario() -> tuple[list[bool], int, int]:
        async with Receiver(Answer(delay=5.0)) as receiver:
            webhooks = client(connections=1, timeout=0.5)
            in_flight, waiting = (
                asyncio.create_task(webhooks.post(receiver.url(), b"{}", {})) for _ in range(2)
            )
            while not receiver.requests:
                await asyncio.sleep(0.01)
            # The post in flight ends its turn before the waiting one hears it was cancelled.
            in_flight.cancel()
            waiting.cancel()
            errors = await asyncio.gather(in_flight, waiting, return_exceptions=True)
            cancelled = [isinstance(error, asyncio.CancelledError) for error in errors]
            with pytest.raises(TimeoutError):  # a turn is free: this one is sent
                async with asyncio.timeout(5):  # a kept turn would queue it for good
                    await webhooks.post(receiver.url(), b"{}", {})
            return cancelled, len(receiver.requests), receiver.connections

    assert run(scenario()) == ([True, True], 2, 2)


@contextmanager
def banner_server() -> Iterator[int]:
    """A port whose server, in a thread of its own, writes a line that is no HTTP the
    moment it accepts a connection, then closes it: before any request can be read."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with suppress(OSError):  # the listener closed: the test is over
            while True:
                connection, _ = listener.accept()
                with connection:
                    connection.sendall(b"220 ready\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


def test_a_server_that_speaks_before_the_request_fails_the_post_and_frees_its_turn(
    run: Runner,
) -> None:
    async def scenario() -> int:
        async with Receiver() as receiver:
            webhooks = client(connections=1)
            with banner_server() as port:
                for _ in range(3):  # a turn kept by one would leave the next waiting
                    # Holds the loop while the connection is made, so the banner is read
                    # with it (on uvloop) before the POST's task resumes.
                    asyncio.get_running_loop().call_soon(time.sleep, 0.01)
                    with pytest.raises(AnswerError):
                        async with asyncio.timeout(5):
                            await webhooks.post(f"http://127.0.0.1:{port}/hook", b"{}", {})
            async with asyncio.timeout(5):
                reply = await webhooks.post(receiver.url(), b"{}", {})
            return reply.status

    assert run(scenario()) == 200


def test_a_post_cancelled_after_its_turn_sent_it_leaves_no_answer_unretrieved(
    run: Runner,
) -> None:
    async def scenario() -> tuple[bool, list[str], int]:
        loop = asyncio.get_running_loop()
        reports: list[str] = []
        loop.set_exception_handler(lambda _, context: reports.append(context["message"]))
        async with Receiver(Answer(delay=0.05)) as receiver:
            webhooks = client(connections=1)
            first = asyncio.create_task(webhooks.post(receiver.url(), b"{}", {}))
            cut_short: list[asyncio.Task[Reply]] = []

            def cancel_soon() -> None:
                # In the loop turn between being sent (from the callback) and resuming.
                loop.call_soon(cut_short[0].cancel)

            post = webhooks.post(receiver.url(), b"{}", {}, on_turn=cancel_soon)
            cut_short.append(asyncio.create_task(post))
            await first
            await asyncio.gather(*cut_short, return_exceptions=True)
            # Its traceback holds the POST's frame, and with it the answer.
            cancelled = cut_short.pop().cancelled()
            del first, post
            gc.collect()
            async with asyncio.timeout(5):  # a kept turn would queue it for good
                reply = await webhooks.post(receiver.url(), b"{}", {})
            return cancelled, list(reports), reply.status  # before the server stops

    assert run(scenario()) == (True, [], 200)


def _slow_for(body: bytes, delay: float) -> Callable[[Received], Answer]:
    """Answers a request with ``body`` after ``delay`` seconds, any other at once."""
    return lambda request: Answer(delay=delay if request.body == body else 0.0)


@pytest.mark.parametrize("failure", ["cannot-connect", "times-out", "is-cancelled"])
def test_a_post_that_fails_or_is_cut_short_gives_its_turn_to_the_next(
    run: Runner, failure: str
) -> None:
    async def scenario() -> tuple[BaseException, int]:
        async with Receiver(_slow_for(b"slow", 5.0)) as receiver:
            webhooks = client(connections=1, timeout=0.3, resolve=resolving_to("127.0.0.2"))
            url = receiver.url("hooks.example") if failure == "cannot-connect" else receiver.url()
            assert _refuses("127.0.0.2", receiver.port)
            first = asyncio.create_task(webhooks.post(url, b"slow", {}))
            second = asyncio.create_task(webhooks.post(receiver.url(), b"{}", {}))
            if failure == "is-cancelled":
                while not receiver.requests:
                    await asyncio.sleep(0.01)
                first.cancel()
            async with asyncio.timeout(5):  # a kept turn would queue it for good
                reply = await second
            [error] = await asyncio.gather(first, return_exceptions=True)
            assert isinstance(error, BaseException)
            return error, reply.status

    expected = {
        "cannot-connect": ConnectFailedError,
        "times-out": TimeoutError,
        "is-cancelled": asyncio.CancelledError,
    }[failure]
    error, status = run(scenario())
    assert isinstance(error, expected) and status == 200


def test_bytes_after_an_answer_never_become_the_answer_of_the_post_waiting_for_its_turn(
    run: Runner,
) -> None:
    async def scenario() -> tuple[list[int], int]:
        async with RawServer(OK_ANSWER + b"HTTP/1.1 200 OK\r\n") as server:
            webhooks = client(connections=1)
            replies = await asyncio.gather(
                *(webhooks.post(server.url(), b"{}", {}) for _ in range(2))
            )
            return [reply.status for reply in replies], server.connections

    assert run(scenario()) == ([200, 200], 2)


# URLs


@pytest.mark.parametrize(
    ("url", "host", "port", "host_header", "path"),
    [
        ("http://example.com/hook", "example.com", 80, "example.com", "/hook"),
        ("https://example.com", "example.com", 443, "example.com", "/"),
        ("https://example.com:443/", "example.com", 443, "example.com", "/"),
        ("http://example.com:443/", "example.com", 443, "example.com:443", "/"),
        (
            "https://example.com:8443/a?b=1&c=%20",
            "example.com",
            8443,
            "example.com:8443",
            "/a?b=1&c=%20",
        ),
        ("http://example.com/a b?x=é", "example.com", 80, "example.com", "/a%20b?x=%C3%A9"),
        ("https://Bücher.example/", "xn--bcher-kva.example", 443, "xn--bcher-kva.example", "/"),
        ("http://[::1]:8080/", "::1", 8080, "[::1]:8080", "/"),
        ("https://[2001:DB8:0::1]/", "2001:db8::1", 443, "[2001:db8::1]", "/"),
        ("http://127.0.0.1:80/", "127.0.0.1", 80, "127.0.0.1", "/"),
    ],
)
def test_parse_target_reads_host_port_host_header_and_path(
    url: str, host: str, port: int, host_header: str, path: str
) -> None:
    target = parse_target(url)

    assert (target.host, target.port, target.host_header, target.path) == (
        host,
        port,
        host_header,
        path,
    )


@pytest.mark.parametrize(
    ("url", "tls", "literal"),
    [
        ("http://example.com/", False, False),
        ("https://example.com/", True, False),
        ("https://[::1]/", True, True),
        ("http://10.0.0.1/", False, True),
    ],
)
def test_parse_target_tells_https_and_address_literals(url: str, tls: bool, literal: bool) -> None:
    target = parse_target(url)

    assert (target.tls, target.literal) == (tls, literal)


@pytest.mark.parametrize(
    ("url", "authorization"),
    [
        ("http://example.com/", None),
        ("http://user:pw@example.com/", "Basic dXNlcjpwdw=="),
        ("http://user@example.com/", "Basic dXNlcjo="),
    ],
)
def test_parse_target_turns_user_info_into_basic_credentials(
    url: str, authorization: str | None
) -> None:
    assert parse_target(url).authorization == authorization


@pytest.mark.parametrize(
    "url", ["ftp://x", "http://", "http://host:99999", "http:///hook", "mailto:a@example.com", ""]
)
def test_parse_target_refuses_what_cannot_be_sent_to(url: str) -> None:
    with pytest.raises(InvalidURLError):
        parse_target(url)


def test_system_resolve_gives_each_address_once() -> None:
    addresses = asyncio.run(system_resolve("localhost", 80))

    assert addresses and set(addresses) <= {"127.0.0.1", "::1"}
    assert len(addresses) == len(set(addresses))


def test_system_resolve_fails_on_an_unknown_name_as_host_not_found() -> None:
    with pytest.raises(HostNotFoundError) as failed:
        asyncio.run(system_resolve("no-such-host.invalid", 80))

    assert failed.value.host == "no-such-host.invalid"

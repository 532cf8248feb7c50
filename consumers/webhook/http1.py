"""One HTTP/1.1 keep-alive connection of the webhook client: a request out, its answer in.

``Connection`` is an ``asyncio.Protocol``; answers are parsed by httptools
(llhttp, Node's parser). A connection is in one of three states::

    idle     in the pool, nothing outstanding; data from the server now is a
             protocol error and closes it
    busy     a request was written and its answer is awaited (``send``)
    closed   the transport is gone; never used again

An answer ends at its framing (``Content-Length``, chunked, or the server
closing an unframed body), or as soon as ``EXCERPT_BYTES`` of its body are in:
the rest is never read, and the connection is closed rather than reused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, cast

import httptools

from streamjobs.errors import StreamjobsError

EXCERPT_BYTES = 16 * 1024
"""Most bytes of a response body kept for the delivery log."""

HEAD_MAX_BYTES = 64 * 1024
"""Most bytes of status line and headers accepted before an answer counts as broken."""

State = Literal["idle", "busy", "closed"]
"""Where a connection is in its life; see the module docstring."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Reply:
    """What the receiver answered.

    Args:
        status: the HTTP status.
        retry_after: the ``Retry-After`` header as sent, if any.
        excerpt: the first 16 KiB of the body as text (invalid UTF-8 and NUL
            replaced, so PostgreSQL can store it).
    """

    status: int
    retry_after: str | None
    excerpt: str


class WebhookClientError(StreamjobsError):
    """No usable answer came back; the message names the host at most, never the path."""


class AnswerError(WebhookClientError):
    """The receiver's answer broke HTTP/1.1, grew too large a head, or broke off early."""


def request_head(*, host: str, path: str, content_length: int, headers: dict[str, str]) -> bytes:
    """The bytes of a POST's request line and headers.

    Args:
        host: the ``Host`` header: the URL's host, with its port when not the default.
        path: the request target: the URL's path and query, percent-encoded.
        content_length: bytes of the body that follows.
        headers: further headers, written as given.

    Raises:
        ValueError: a header holds CR, LF or NUL (it would split the request).
    """
    lines = [f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {content_length}\r\n"]
    for name, value in headers.items():
        if _splits(name) or _splits(value):
            raise ValueError(f"the {name!r} header holds a line break or NUL")
        lines.append(f"{name}: {value}\r\n")
    lines.append("\r\n")
    return "".join(lines).encode()


def _answer_error(exc: httptools.HttpParserError) -> AnswerError:
    # httptools chains what a callback raised as the context of its own error.
    ours = exc.__context__
    return ours if isinstance(ours, AnswerError) else AnswerError(f"malformed HTTP answer ({exc})")


def _head_too_large() -> AnswerError:
    return AnswerError(f"the answer's head is over {HEAD_MAX_BYTES} bytes")


def _splits(text: str) -> bool:
    return "\r" in text or "\n" in text or "\0" in text


class Connection(asyncio.Protocol):
    """One connection to one receiver; the pool hands it to one request at a time.

    Args:
        excerpt_limit: most body bytes kept; default ``EXCERPT_BYTES``.
    """

    def __init__(self, *, excerpt_limit: int = EXCERPT_BYTES) -> None:
        self._loop = asyncio.get_running_loop()
        self._excerpt_limit = excerpt_limit
        self._transport: asyncio.Transport | None = None
        self._parser: httptools.HttpResponseParser | None = None
        self._answer: asyncio.Future[Reply] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._on_done: Callable[[], None] | None = None
        self._reading = False
        self._head_bytes = 0
        self._header_bytes = 0
        self._status = 0
        self._retry_after: str | None = None
        self._framed = False
        self._body = bytearray()
        self.state: State = "idle"
        self.idle_since = self._loop.time()
        """Loop time at which the connection last became idle."""

    def send(
        self,
        head: bytes,
        body: bytes,
        *,
        deadline: float,
        on_done: Callable[[], None] | None = None,
    ) -> asyncio.Future[Reply]:
        """Write one request; the future gets its answer or the reason there is none.

        Args:
            head: the request line and headers (``request_head``).
            body: the body.
            deadline: loop time by which the answer must be in; past it the
                connection is dropped. A timer, not ``asyncio.timeout``: that
                costs a delivery several times as much.
            on_done: called once, as soon as the exchange is over (answered,
                failed, timed out or closed) and the state says whether the
                connection can be reused: from the callback that ended it, a
                loop turn before the awaiting task resumes; for an answer, once
                the whole read that held its end is parsed, so ``on_done`` may
                send the next request on this connection. It must not raise.

        Raises (through the future):
            AnswerError: the answer was malformed or the connection closed first.
            TimeoutError: the deadline passed first.
        """
        assert self.state == "idle" and self._transport is not None
        self.state = "busy"
        self._answer = self._loop.create_future()
        self._timer = self._loop.call_at(deadline, self._expire)
        self._on_done = on_done
        if self._parser is None:  # one per connection: it reads the answers one after another
            self._parser = httptools.HttpResponseParser(self)
        self._head_bytes = self._header_bytes = self._status = 0
        self._retry_after = None
        self._framed = False
        self._body = bytearray()
        self._transport.write(head + body)  # uvloop's writelines makes a write call per part
        return self._answer

    def close(self) -> None:
        """Drop the connection at once; an answer still awaited fails."""
        if self._transport is not None:
            self._transport.abort()
        self._closed(AnswerError("the connection was closed by the client"))

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are no subclasses of asyncio.Transport, only alike.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._answer is None or self._parser is None:
            # Nothing was asked: a server talking out of turn is not trusted with another request.
            self.close()
            return
        # An exchange the parser ends is over only after the whole read: bytes after
        # its answer must still find no request awaiting them, and fail.
        self._reading = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._finish(reusable=False)  # 101 Switching Protocols: the status is the answer
        except httptools.HttpParserError as exc:
            self._fail(_answer_error(exc))
        finally:
            self._reading = False
        if not self._status and self._answer is not None:
            # Still in the head: httptools holds its header bytes until it is complete.
            self._head_bytes += len(data)
            if self._head_bytes > HEAD_MAX_BYTES:
                self._fail(_head_too_large())
        if self._answer is None:
            self._exchange_over()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._status and not self._framed and self._answer is not None:
            self._finish(reusable=False)  # a body without framing ends where the stream does
        self._closed(AnswerError("the connection closed before the answer was complete"))

    # httptools callbacks

    def on_message_begin(self) -> None:
        if self._answer is None:
            # Bytes after the answer in the same read: a server talking out of turn.
            raise AnswerError("data after the answer")

    def on_header(self, name: bytes, value: bytes) -> None:
        # A whole head can come in one read, past the count of data_received.
        self._header_bytes += len(name) + len(value) + 4  # b": " and b"\r\n"
        if self._header_bytes > HEAD_MAX_BYTES:
            raise _head_too_large()
        lowered = name.lower()
        if lowered == b"retry-after":
            self._retry_after = value.decode("latin-1")
        elif lowered in (b"content-length", b"transfer-encoding"):
            self._framed = True

    def on_headers_complete(self) -> None:
        assert self._parser is not None
        status = self._parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            # An interim answer (103 Early Hints): the real one follows.
            self._retry_after = None
            self._framed = False
            return
        self._status = status

    def on_body(self, body: bytes) -> None:
        room = self._excerpt_limit - len(self._body)
        self._body += body[:room]
        if len(body) > room:
            self._finish(reusable=False)

    def on_message_complete(self) -> None:
        if not self._status:
            return  # the end of an interim answer
        assert self._parser is not None
        # After a 101 the connection speaks the protocol it switched to, not HTTP/1.1.
        self._finish(
            reusable=self._parser.should_keep_alive() and not self._parser.should_upgrade()
        )

    # states

    def _finish(self, *, reusable: bool) -> None:
        answer = self._take_answer()
        if answer is None:
            return
        if not answer.done():
            excerpt = self._body.decode("utf-8", "replace").replace("\x00", "\ufffd")
            reply = Reply(status=self._status, retry_after=self._retry_after, excerpt=excerpt)
            answer.set_result(reply)
        if reusable and self.state == "busy":
            self.state = "idle"
            self.idle_since = self._loop.time()
        elif self.state != "closed":
            self.close()
        self._exchange_over()

    def _expire(self) -> None:
        self._timer = None
        self._fail(TimeoutError("no complete answer before the timeout"))

    def _fail(self, error: Exception) -> None:
        if self._transport is not None:
            self._transport.abort()
        self._closed(error)

    def _closed(self, error: Exception) -> None:
        self.state = "closed"
        answer = self._take_answer()
        if answer is None:
            return
        if not answer.done():
            answer.set_exception(error)
        self._exchange_over()

    def _exchange_over(self) -> None:
        if self._reading:
            return  # data_received calls it again once the read is parsed
        done, self._on_done = self._on_done, None
        if done is not None:
            done()

    def _take_answer(self) -> asyncio.Future[Reply] | None:
        """The awaited answer, now no longer awaited from the connection; its timer stopped."""
        answer, self._answer = self._answer, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        return answer

"""The one pooled HTTP client that sends every webhook of a process.

aiohttp, chosen by measurement (notes/libraries.md: at 100 concurrent requests
it reached about 4,100 requests/s where httpx's pool managed about 200). The
connector resolves through the network guard, so the connection goes to the
address that was checked; IP literals, which aiohttp never resolves, are
checked before each request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import ClientResponse, ClientSession, ClientTimeout, InvalidURL, TCPConnector
from yarl import URL

from consumers.webhook.guard import GuardedResolver, check_literal_host
from streamjobs.settings import Settings

EXCERPT_BYTES = 16 * 1024
"""Most bytes of a response body kept for the delivery log."""

USER_AGENT = "streamjobs-webhooks/0.1"
"""The ``User-Agent`` of every delivery."""


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


class WebhookClient:
    """Posts webhook bodies; never follows redirects.

    Args:
        session: the pooled session, configured by ``open_client``.
        guard: check IP literals against the network guard (the session's
            resolver checks host names).
    """

    def __init__(self, session: ClientSession, *, guard: bool) -> None:
        self._session = session
        self._guard = guard

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Reply:
        """POST ``body`` to ``url`` and return the answer.

        Raises:
            BlockedTargetError: the guard refused the target; nothing was sent.
            aiohttp.InvalidURL: the host ends in a number but is no address.
            aiohttp.ClientError, TimeoutError: no usable answer.
        """
        target = URL(url)
        if self._guard:
            try:
                address = check_literal_host(target.raw_host or "")
            except ValueError:
                raise InvalidURL(url) from None
            if address is not None:
                # Connect to the address judged, not to aiohttp's reading of the host.
                target = target.with_host(str(address))
        async with self._session.post(
            target, data=body, headers=headers, allow_redirects=False
        ) as response:
            return Reply(
                status=response.status,
                retry_after=response.headers.get("Retry-After"),
                excerpt=await read_excerpt(response),
            )


async def read_excerpt(response: ClientResponse, limit: int = EXCERPT_BYTES) -> str:
    """The first ``limit`` bytes (default 16 KiB) of the body, as storable text.

    The rest is never read: releasing a response with unread data closes its
    connection instead of returning it to the pool.
    """
    data = bytearray()
    while len(data) < limit:
        chunk = await response.content.read(limit - len(data))
        if not chunk:
            break
        data += chunk
    return data.decode("utf-8", "replace").replace("\x00", "\ufffd")


@asynccontextmanager
async def open_client(settings: Settings, *, connections: int) -> AsyncIterator[WebhookClient]:
    """Open the process's client; close its connections on exit.

    Args:
        settings: ``webhook_connect_timeout`` (TCP and TLS), ``webhook_timeout``
            (the whole exchange) and ``webhook_allow_private_networks`` (turns
            the guard off).
        connections: the pool's size: the job's concurrency.
    """
    resolver = None if settings.webhook_allow_private_networks else GuardedResolver()
    connector = TCPConnector(limit=connections, resolver=resolver)
    # sock_connect, not connect: waiting for a free pooled connection is not
    # the receiver's fault, and counts against the total only.
    timeout = ClientTimeout(
        total=settings.webhook_timeout, sock_connect=settings.webhook_connect_timeout
    )
    try:
        async with ClientSession(
            connector=connector,
            timeout=timeout,
            trust_env=False,
            headers={"User-Agent": USER_AGENT},
        ) as session:
            yield WebhookClient(session, guard=resolver is not None)
    finally:
        # The connector closes only a resolver it created itself.
        if resolver is not None:
            await resolver.close()

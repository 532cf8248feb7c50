"""The pooled HTTP client under the Resend SDK, and the SDK's configuration.

The SDK's async calls (``Emails.send_async``, ``Batch.send_async``) go through
``resend.default_async_http_client``; this module installs one aiohttp
session there (the project's client of choice by measurement, with a true
total timeout), so no call blocks the event loop and connections are reused.
The SDK keeps its API key, URL and client in module globals: one Resend
account per process, which is what the settings describe anyway.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import resend
from aiohttp import ClientSession, ClientTimeout, TCPConnector
from resend.http_client_async import AsyncHTTPClient

from streamjobs.settings import Settings

CONNECTIONS = 10
"""Connections kept to Resend; the rate limit, not the pool, bounds the traffic."""


class PooledClient(AsyncHTTPClient):
    """The SDK's transport: one pooled aiohttp session.

    Args:
        session: the session, configured and closed by ``open_resend_client``.
    """

    def __init__(self, session: ClientSession) -> None:
        self._session = session

    async def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        json: dict[str, object] | list[object] | None = None,
        files: dict[str, Any] | None = None,
        data: dict[str, str] | None = None,
    ) -> tuple[bytes, int, Mapping[str, str]]:
        """Send one request; the SDK turns any exception into a ``HttpClientError``."""
        if files is not None:
            raise ValueError("file uploads are not used by the email jobs")
        async with self._session.request(
            method, url, headers=dict(headers), json=json, data=data, allow_redirects=False
        ) as response:
            body = await response.read()
            answered = {name.lower(): value for name, value in response.headers.items()}
            return body, response.status, answered


@asynccontextmanager
async def open_resend_client(settings: Settings) -> AsyncIterator[PooledClient]:
    """Point the SDK at ``RESEND_API_URL`` with ``RESEND_API_KEY`` and a pooled session.

    Args:
        settings: ``resend_api_url``, ``resend_api_key``, ``resend_connect_timeout``
            (TCP and TLS) and ``resend_timeout`` (the whole exchange).
    """
    key = settings.resend_api_key
    resend.api_key = None if key is None else key.get_secret_value()
    resend.api_url = settings.resend_api_url.rstrip("/")
    timeout = ClientTimeout(
        total=settings.resend_timeout, sock_connect=settings.resend_connect_timeout
    )
    async with ClientSession(
        connector=TCPConnector(limit=CONNECTIONS),
        timeout=timeout,
        trust_env=False,
    ) as session:
        client = PooledClient(session)
        resend.default_async_http_client = client
        try:
            yield client
        finally:
            if resend.default_async_http_client is client:
                resend.default_async_http_client = None

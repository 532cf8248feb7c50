"""Secrets kept out of text meant for people: ``streamjobs config``, error messages.

A URL can carry a credential in two places: the password of its user info
(``postgresql://user:secret@host/db``) and its query (``?password=secret``,
``?sslpassword=...``, ``?token=...``). ``mask_url`` hides both; ``address``
keeps only where the URL points. ``mask_document`` hides the values of a
JSON document's fields whose names say they hold a secret.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

MASK = "********"
"""What a secret's value is replaced with."""

SECRET_WORDS = ("password", "secret", "token", "key")
"""A query parameter whose name contains one of these holds a secret."""


def mask_url(url: str) -> str:
    """``url`` with its password and every secret query value replaced by ``MASK``.

    A URL too malformed to split is masked whole: where its secret sits
    cannot be told.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    masked = url
    userinfo, at, host = parts.netloc.rpartition("@")
    if at and ":" in userinfo:
        user = userinfo.split(":", 1)[0]
        masked = masked.replace(f"//{parts.netloc}", f"//{user}:{MASK}@{host}", 1)
    if parts.query:
        query = "&".join(_mask_parameter(parameter) for parameter in parts.query.split("&"))
        before, _, after = masked.partition(f"?{parts.query}")
        masked = f"{before}?{query}{after}"
    return masked


def _mask_parameter(parameter: str) -> str:
    name, equals, _ = parameter.partition("=")
    if equals and any(word in unquote(name).lower() for word in SECRET_WORDS):
        return f"{name}={MASK}"
    return parameter


def address(url: str) -> str:
    """Where ``url`` points, ``host:port/path``, without user info or query.

    Falls back to ``mask_url`` when the URL names no host (a local socket
    given as ``?host=/run/postgresql``, say).
    """
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return MASK
    if not host:
        return mask_url(url)
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}{'' if port is None else f':{port}'}{parts.path}"


def mask_document(document: Any) -> Any:
    """``document`` (parsed JSON) with every value under a secret-sounding field name masked.

    A field is secret when its name contains one of ``SECRET_WORDS`` (any
    case): ``api_key``, ``Password``, ``x-auth-token``. Nested objects and
    lists are masked too; strings that are URLs lose their passwords.
    """
    if isinstance(document, dict):
        return {
            name: MASK if _secret_name(name) else mask_document(value)
            for name, value in document.items()
        }
    if isinstance(document, list):
        return [mask_document(item) for item in document]
    if isinstance(document, str) and "://" in document:
        return mask_url(document)
    return document


def _secret_name(name: object) -> bool:
    return isinstance(name, str) and any(word in name.lower() for word in SECRET_WORDS)

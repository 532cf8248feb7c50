"""Standard Webhooks signatures (https://www.standardwebhooks.com, spec 1.0).

A secret is ``whsec_`` followed by the base64 of random bytes; the HMAC key is
those bytes. The signed content is ``{webhook-id}.{webhook-timestamp}.{body}``
and the ``webhook-signature`` header holds one ``v1,<base64 HMAC-SHA256>`` per
key, separated by spaces, so a receiver holding either key of a rotation
accepts the message.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from collections.abc import Sequence
from functools import lru_cache

SECRET_PREFIX = "whsec_"
"""Marks a Standard Webhooks secret."""

SECRET_BYTES = 32
"""Random bytes in a new secret; the spec asks for at least 24."""

MIN_KEY_BYTES = 24
"""Shortest key a stored secret may decode to."""

KEYS_CACHED = 1024
"""Keyed HMAC states kept for signing: two per endpoint at most (a rotation)."""


def generate_secret() -> str:
    """A new random secret, ``whsec_<base64 of 32 bytes>``."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def parse_secret(secret: str) -> bytes:
    """The HMAC key inside ``secret``.

    Args:
        secret: ``whsec_<base64>``; the prefix is optional, as in the
            reference libraries.

    Raises:
        ValueError: not base64, or shorter than 24 bytes. The message never
            contains the secret.
    """
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise ValueError("the webhook secret is not valid base64") from None
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the webhook secret is shorter than {MIN_KEY_BYTES} bytes")
    return key


def sign(msg_id: str, timestamp: int, body: bytes, keys: Sequence[bytes]) -> str:
    """The ``webhook-signature`` header value for one message.

    Args:
        msg_id: the ``webhook-id`` header (the event id).
        timestamp: the ``webhook-timestamp`` header, Unix seconds.
        body: exactly the bytes sent as the request body.
        keys: HMAC keys from ``parse_secret``, one ``v1`` signature each, in order.
    """
    content = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join("v1," + base64.b64encode(_hmac_sha256(key, content)).decode() for key in keys)


def _hmac_sha256(key: bytes, content: bytes) -> bytes:
    # Not hmac.digest(): that one-shot call always lets go of the GIL, and on the
    # event loop each signature then waits up to a switch interval (5 ms) for
    # another thread to give it back. An HMAC object lets go only for content
    # over 2 KiB; a copy of one keyed already costs less than a new one.
    signer = _keyed(key).copy()
    signer.update(content)
    return signer.digest()


@lru_cache(maxsize=KEYS_CACHED)
def _keyed(key: bytes) -> hmac.HMAC:
    return hmac.new(key, digestmod="sha256")

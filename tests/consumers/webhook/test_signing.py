"""Standard Webhooks signatures: the spec's test vector and an independent receiver."""

from __future__ import annotations

import base64
import time

import pytest

from consumers.webhook.signing import generate_secret, parse_secret, sign
from tests.consumers.webhook.receivers import verify

# The published vector of the Standard Webhooks reference libraries
# (standard-webhooks/standard-webhooks, libraries/python/tests/test_webhooks.py,
# test_sign_function; the same values appear in every language's tests).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_reproduces_the_published_test_vector() -> None:
    keys = [parse_secret(VECTOR_SECRET)]

    assert sign(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY, keys) == VECTOR_SIGNATURE


def test_independent_verifier_accepts_the_test_vector_and_rejects_a_changed_body() -> None:
    headers = {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }

    assert verify(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TIMESTAMP)
    assert not verify(VECTOR_SECRET, headers, VECTOR_BODY + b" ", now=VECTOR_TIMESTAMP)


def test_new_secret_is_whsec_prefixed_base64_of_32_random_bytes() -> None:
    first, second = generate_secret(), generate_secret()

    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32
    assert first != second


def test_secret_without_prefix_is_accepted_like_the_reference_libraries() -> None:
    assert parse_secret(VECTOR_SECRET.removeprefix("whsec_")) == parse_secret(VECTOR_SECRET)


@pytest.mark.parametrize(
    "secret",
    ["whsec_not*base64!", "whsec_" + base64.b64encode(b"sixteen bytes...").decode()],
    ids=["not-base64", "shorter-than-24-bytes"],
)
def test_malformed_secret_is_refused_without_echoing_it(secret: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_secret(secret)

    assert secret.removeprefix("whsec_") not in str(refused.value)


def test_one_signature_per_key_each_verified_by_an_independent_receiver() -> None:
    old, new = generate_secret(), generate_secret()
    now = int(time.time())
    body = b'{"type":"invoice.paid"}'

    header = sign("evt-1", now, body, [parse_secret(new), parse_secret(old)])

    assert len(header.split(" ")) == 2
    assert all(part.startswith("v1,") for part in header.split(" "))
    for secret in (new, old):
        headers = {
            "webhook-id": "evt-1",
            "webhook-timestamp": str(now),
            "webhook-signature": header,
        }
        assert verify(secret, headers, body)
    stranger = generate_secret()
    headers = {"webhook-id": "evt-1", "webhook-timestamp": str(now), "webhook-signature": header}
    assert not verify(stranger, headers, body)

"""Unusable message values become fatal errors that say what to fix."""

from __future__ import annotations

import uuid

import pytest

from consumers.runtime.inbound import decode_event
from schemas.events import WebhookSend
from streamjobs.errors import FatalError
from tests.consumers.runtime.probe import ProbeEvent

BAD_VALUES: list[tuple[bytes | None, str]] = [
    (None, "no value (a tombstone)"),
    (b"\xff\xfe{}", "not valid UTF-8"),
    (b"{not json", "not JSON"),
    (b"[1, 2]", "must be a JSON object, got list"),
    (b'"text"', "must be a JSON object, got str"),
    (b'{"id": "seven"}', "invalid ProbeEvent: id: Input should be a valid integer"),
    (b'{"id": 1, "extra": true}', "extra: Extra inputs are not permitted"),
    (b'{"id": 1, "pad": "' + b"x" * 2000 + b'"}', "2020 bytes; the limit is 1000"),
    (b'{"id": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "recursion limit exceeded"),
    (b'{"id": ' + b"9" * 5000 + b"}", "number out of range"),
]


@pytest.mark.parametrize(("value", "reason"), BAD_VALUES[-2:])
def test_json_too_deep_or_a_number_too_long_is_fatal_with_the_parsers_reason(
    value: bytes, reason: str
) -> None:
    with pytest.raises(FatalError) as raised:
        decode_event(value, ProbeEvent, max_bytes=len(value))
    assert f"message value is not usable JSON: {reason}" in raised.value.message


BAD_WEBHOOK_VALUES: list[tuple[bytes, str]] = [
    (b'"payload": {"a": NaN}', "payload.a: nan is not a JSON number"),
    (b'"payload": {"a": -Infinity}', "payload.a: -inf is not a JSON number"),
    (b'"payload": {"a": 1e400}', "payload.a: inf is not a JSON number"),
    (
        b'"payload": {"a": [' + b"9" * 30 + b"]}",
        "payload.a.0: integer of 30 digits exceeds 64 bits",
    ),
    (b'"payload": {"a": "\\ud800"}', "payload.a: lone surrogate at character 0"),
    (b'"payload": {"\\udc00": 1}', "payload (a key): lone surrogate"),
    (b'"payload": {}, "event_type": "x\\udc00"', "event_type: Input should be a valid string"),
    (b'"payload": ' + b'{"a": ' * 70 + b"1" + b"}" * 70, "nested deeper than 64 levels"),
]


@pytest.mark.parametrize(("fields", "reason"), BAD_WEBHOOK_VALUES)
def test_a_webhook_payload_json_cannot_carry_is_fatal_naming_the_field(
    fields: bytes, reason: str
) -> None:
    value = b'{"webhook_id": "' + str(uuid.UUID(int=1)).encode() + b'", ' + fields
    if b'"event_type"' not in fields:
        value += b', "event_type": "x"'
    with pytest.raises(FatalError) as raised:
        decode_event(value + b"}", WebhookSend, max_bytes=100_000)
    assert reason in raised.value.message


@pytest.mark.parametrize(("value", "reason"), BAD_VALUES[:-2])
def test_a_bad_value_is_fatal_with_a_reason(value: bytes | None, reason: str) -> None:
    with pytest.raises(FatalError) as raised:
        decode_event(value, ProbeEvent, max_bytes=1000)
    assert reason in raised.value.message


def test_validation_errors_never_echo_the_input() -> None:
    with pytest.raises(FatalError) as raised:
        decode_event(b'{"id": "sk_live_secret"}', ProbeEvent, max_bytes=1000)
    assert "sk_live_secret" not in raised.value.message


def test_a_good_value_becomes_the_model() -> None:
    assert decode_event(b'{"id": 5}', ProbeEvent, max_bytes=1000) == ProbeEvent(id=5)

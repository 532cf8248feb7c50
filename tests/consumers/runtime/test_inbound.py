"""Unusable message values become fatal errors that say what to fix."""

from __future__ import annotations

import pytest

from consumers.runtime.inbound import decode_event
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
]


@pytest.mark.parametrize(("value", "reason"), BAD_VALUES)
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

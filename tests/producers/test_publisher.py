"""Publishing refuses what JSON cannot carry, before anything reaches the broker."""

from __future__ import annotations

import math
import uuid

import pytest
from pydantic import ValidationError

from producers import Publisher
from producers.publisher import parse_event_json
from streamjobs.settings import Settings


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_event_text_with_a_non_json_number_is_refused(token: str) -> None:
    with pytest.raises(ValueError, match=f"{token} is not a JSON number"):
        parse_event_json('{"payload": {"a": ' + token + "}}")


@pytest.mark.parametrize("number", [math.nan, math.inf, float("1e400")])
def test_publishing_a_non_finite_number_is_refused_and_nothing_is_sent(
    settings: Settings, number: float
) -> None:
    event = {"webhook_id": str(uuid.uuid4()), "event_type": "x", "payload": {"a": number}}
    with pytest.raises(ValidationError, match=r"payload\.a: .* is not a JSON number"):
        Publisher(settings).publish("webhook.send", event)

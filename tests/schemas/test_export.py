"""The exported JSON Schema files match the event models."""

from __future__ import annotations

import json
from typing import Any

import pytest

from schemas.export import render, schema_path
from schemas.topics import REGISTRY, TopicSpec


@pytest.mark.parametrize("spec", REGISTRY, ids=lambda spec: spec.name)
def test_the_schema_file_matches_the_model(spec: TopicSpec[Any]) -> None:
    assert schema_path(spec).read_text() == render(spec), (
        f"{schema_path(spec).name} is stale: run `python -m schemas.export`"
    )


def test_email_schema_names_the_sender_field_from() -> None:
    (email,) = [spec for spec in REGISTRY if spec.name == "email.send"]
    properties = json.loads(schema_path(email).read_text())["properties"]
    assert "from" in properties
    assert "sender" not in properties

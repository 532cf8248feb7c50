"""``streamjobs webhooks``: the real command line against the test database."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine

from consumers.webhook.signing import parse_secret
from streamjobs.settings import Settings
from tests.streamjobs.cli.support import streamjobs


def as_json(settings: Settings, *args: str) -> Any:
    """Run ``streamjobs ARGS --json``, require success, and parse what it printed."""
    done = streamjobs(settings, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_add_registers_the_url_and_prints_a_new_secret_once(db: Engine, settings: Settings) -> None:
    added = as_json(
        settings, "webhooks", "add", "https://example.com/hook", "--description", "Acme"
    )

    assert added["url"] == "https://example.com/hook" and added["state"] == "active"
    assert added["description"] == "Acme"
    assert len(parse_secret(added["secret"])) == 32
    [listed] = as_json(settings, "webhooks", "list")
    assert listed["id"] == added["id"]
    assert "secret" not in json.dumps(listed).replace("previous_secret_expires_at", "")


def test_list_shows_each_endpoint_state(db: Engine, settings: Settings) -> None:
    kept = as_json(settings, "webhooks", "add", "https://a.example/hook")
    gone = as_json(settings, "webhooks", "add", "http://b.example/hook")

    disabled = as_json(settings, "webhooks", "disable", gone["id"], "--reason", "customer left")

    assert (disabled["state"], disabled["disabled_reason"]) == ("disabled", "customer left")
    states = {e["id"]: e["state"] for e in as_json(settings, "webhooks", "list")}
    assert states == {kept["id"]: "active", gone["id"]: "disabled"}
    text = streamjobs(settings, "webhooks", "list").stdout
    assert "disabled (customer left)" in text and "active" in text


def test_rotate_secret_prints_a_new_secret_and_keeps_the_old_one_in_grace(
    db: Engine, settings: Settings
) -> None:
    added = as_json(settings, "webhooks", "add", "https://example.com/hook")

    rotated = as_json(settings, "webhooks", "rotate-secret", added["id"])

    assert rotated["secret"] != added["secret"]
    assert rotated["secret"].startswith("whsec_")
    assert rotated["previous_secret_expires_at"] is not None


def test_bad_url_exits_2_with_one_line_and_registers_nothing(
    db: Engine, settings: Settings
) -> None:
    done = streamjobs(settings, "webhooks", "add", "ftp://example.com/hook")

    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "http://" in done.stderr
    assert as_json(settings, "webhooks", "list") == []


def test_unknown_id_exits_1(db: Engine, settings: Settings) -> None:
    done = streamjobs(settings, "webhooks", "disable", "00000000-0000-0000-0000-000000000000")

    assert done.returncode == 1
    assert "no webhook" in done.stderr

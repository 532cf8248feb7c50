"""``streamjobs webhooks``: the real command line against the test database."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, insert, select

from consumers.runtime.runner import Runner
from consumers.webhook.job import JOB
from consumers.webhook.registry import add_endpoint, disable_endpoint
from consumers.webhook.signing import parse_secret
from producers import Publisher
from schemas import headers
from schemas.tables import webhook_deliveries
from streamjobs.kafka import create_topics, topic_set
from streamjobs.settings import Settings
from tests.conftest import SettingsFactory
from tests.consumers.webhook.receivers import Receiver
from tests.consumers.webhook.test_through_kafka import register, scripted, serving
from tests.kafka_support import read_topic, running, wait_until
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


def test_show_and_enable_of_an_unknown_id_exit_1(db: Engine, settings: Settings) -> None:
    for action in ("show", "enable"):
        done = streamjobs(settings, "webhooks", action, "00000000-0000-0000-0000-000000000000")
        assert done.returncode == 1
        assert done.stderr.count("\n") == 1 and "no webhook" in done.stderr


def test_enable_after_a_410_and_a_replay_by_key_deliver_the_parked_events_once(
    db: Engine, make_settings: SettingsFactory
) -> None:
    settings = make_settings(
        retry_delays=(0.3,), webhook_allow_private_networks=True, webhook_config_cache_ttl=0
    )
    topics = topic_set(settings, JOB.topic)
    create_topics(settings, [topics])
    with serving(Receiver(scripted(410, 200))) as receiver, running(Runner([JOB], settings)):
        endpoint = register(db, receiver)
        other = add_endpoint(db, "http://127.0.0.1:9/unrelated")
        disable_endpoint(db, other.id, "another customer")
        with Publisher(settings) as publisher:
            publisher.send_webhook(endpoint.id, "invoice.paid", {"n": 1}, event_id="gone")
            read_topic(settings, topics.dlq, count=1)  # the 410 disabled the endpoint
            for event_id in ("parked-1", "parked-2"):
                publisher.send_webhook(endpoint.id, "invoice.paid", {"n": 2}, event_id=event_id)
            publisher.send_webhook(other.id, "invoice.paid", {"n": 3}, event_id="not-mine")
        letters = read_topic(settings, topics.dlq, count=4)
        classes = {r.headers[headers.EVENT_ID]: r.headers[headers.ERROR_CLASS] for r in letters}
        assert classes == {
            "gone": "FatalError",
            "parked-1": "WebhookDisabledError",
            "parked-2": "WebhookDisabledError",
            "not-mine": "WebhookDisabledError",
        }
        shown = as_json(settings, "webhooks", "show", str(endpoint.id))
        assert shown["state"] == "disabled" and "410" in shown["disabled_reason"]
        assert (shown["attempts"], shown["success_rate"], shown["last_success_at"]) == (3, 0, None)
        assert as_json(settings, "webhooks", "enable", str(endpoint.id))["state"] == "active"

        replay = ["dlq", "replay", "webhook.send", "--key", str(endpoint.id), "--since", "10m"]
        done = streamjobs(settings, *replay)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("moved 3 to "), done.stdout
        wait_until(lambda: len(receiver.requests) == 4)
        again = streamjobs(settings, *replay)
        assert again.stdout.startswith("moved 0 to "), again.stdout
        shown = as_json(settings, "webhooks", "show", str(endpoint.id))
    ids = [request.headers["webhook-id"] for request in receiver.requests]
    assert sorted(ids) == ["gone", "gone", "parked-1", "parked-2"]
    assert (shown["attempts"], shown["success_rate"]) == (6, 0.5)
    assert shown["last_success_at"] is not None
    assert [a["event_id"] for a in shown["recent_attempts"]][-1] == "gone"
    assert (
        "success rate 50.0% of 6 attempts"
        in streamjobs(settings, "webhooks", "show", str(endpoint.id)).stdout
    )


def test_show_lists_pending_attempts_apart_from_the_success_rate(
    db: Engine, settings: Settings
) -> None:
    endpoint = add_endpoint(db, "https://example.com/hook")
    log = webhook_deliveries.c
    rows = [
        {"event_id": "done", "webhook_id": endpoint.id, "attempt": 1, "outcome": "success"},
        {"event_id": "cut", "webhook_id": endpoint.id, "attempt": 1, "outcome": "pending"},
    ]
    with db.begin() as connection:
        connection.execute(insert(webhook_deliveries), rows)
        assert connection.execute(select(log.sends)).scalars().all() == [1, 1]

    shown = as_json(settings, "webhooks", "show", str(endpoint.id))
    text = streamjobs(settings, "webhooks", "show", str(endpoint.id)).stdout

    assert (shown["attempts"], shown["pending"], shown["success_rate"]) == (1, 1, 1.0)
    assert "success rate 100.0% of 1 attempts" in text
    assert "1 pending: sent or being sent, outcome not logged yet" in text

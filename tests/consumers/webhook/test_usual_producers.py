"""Events written by the usual Kafka tools are delivered: kcat and Kafka's console producer."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from sqlalchemy import Engine

from consumers.runtime.runner import Runner
from consumers.webhook.job import JOB
from streamjobs.kafka import create_topics, topic_set
from streamjobs.settings import Settings
from tests.conftest import SettingsFactory
from tests.consumers.webhook.receivers import Receiver
from tests.consumers.webhook.test_through_kafka import register, serving
from tests.kafka_support import running, wait_until

KCAT = "/usr/bin/kcat"
"""Debian's kcat, a librdkafka client of its own."""

KAFKA_LIBS = Path(
    os.environ.get("KAFKA_LIBS", Path(__file__).parents[3] / ".dev" / "kafka" / "libs")
)
"""The jars ``dev/services.sh`` fetched for the local broker; its tools are among them."""

CONSOLE_PRODUCER = "org.apache.kafka.tools.ConsoleProducer"
"""Main class of ``kafka-console-producer``."""


def event_line(webhook_id: str, n: int) -> str:
    """One ``webhook.send`` event as a plain JSON line."""
    return json.dumps({"webhook_id": webhook_id, "event_type": "tool.test", "payload": {"n": n}})


def kcat(settings: Settings, topic: str, line: str, *, key: str, event_id: str) -> None:
    """``kcat -P`` one ``key:value`` line with an ``event-id`` header (``-H name=value``)."""
    subprocess.run(
        [
            KCAT,
            "-b",
            settings.kafka_bootstrap_servers,
            "-t",
            topic,
            "-P",
            "-K:",
            "-H",
            f"event-id={event_id}",
        ],
        input=f"{key}:{line}\n",
        text=True,
        check=True,
        timeout=30,
    )


def console_producer(settings: Settings, topic: str, line: str, *, event_id: str) -> None:
    """Kafka's console producer, reading ``headers<TAB>value`` lines (``name:value`` headers)."""
    assert (KAFKA_LIBS / ".pom.sha256").is_file(), f"no Kafka jars in {KAFKA_LIBS} (KAFKA_LIBS)"
    subprocess.run(
        [
            *("java", "-Xmx128m", "-cp", f"{KAFKA_LIBS}/*", CONSOLE_PRODUCER),
            *("--bootstrap-server", settings.kafka_bootstrap_servers, "--topic", topic),
            *("--property", "parse.headers=true"),
        ],
        input=f"event-id:{event_id}\t{line}\n",
        text=True,
        check=True,
        capture_output=True,
        timeout=60,
    )


def test_events_from_kcat_and_the_console_producer_are_delivered_with_their_event_ids(
    db: Engine, make_settings: SettingsFactory
) -> None:
    webhook_settings = make_settings(webhook_allow_private_networks=True)
    webhook_topics = topic_set(webhook_settings, JOB.topic)
    create_topics(webhook_settings, [webhook_topics])
    with serving(Receiver()) as receiver:
        endpoint = register(db, receiver)
        webhook_id = str(endpoint.id)
        main = webhook_topics.main
        kcat(webhook_settings, main, event_line(webhook_id, 1), key=webhook_id, event_id="kcat-1")
        console_producer(webhook_settings, main, event_line(webhook_id, 2), event_id="console-1")
        with running(Runner([JOB], webhook_settings)):
            wait_until(lambda: len(receiver.requests) == 2)
    delivered = {
        request.headers["webhook-id"]: json.loads(request.body)["data"]["n"]
        for request in receiver.requests
    }
    assert delivered == {"kcat-1": 1, "console-1": 2}

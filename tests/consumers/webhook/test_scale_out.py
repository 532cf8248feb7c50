"""Scaling out: two ``streamjobs consume webhook`` processes share the partitions."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from consumers.webhook.job import JOB
from producers import Publisher
from schemas.tables import webhook_deliveries
from streamjobs.kafka import create_topics, topic_set
from streamjobs.settings import Settings
from tests.conftest import TEST_PARTITIONS, SettingsFactory
from tests.consumers.webhook.receivers import Receiver
from tests.consumers.webhook.test_through_kafka import register, serving
from tests.kafka_support import wait_until
from tests.streamjobs.cli.support import STREAMJOBS, streamjobs

EVENTS = 90
"""Events published while both processes run, spread over every partition."""


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    """Test settings with private targets allowed: the receiver listens on 127.0.0.1."""
    return make_settings(webhook_allow_private_networks=True)


@pytest.fixture
def consumers(settings: Settings, tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Two ``streamjobs consume webhook`` processes of one group; stopped by SIGTERM after."""
    create_topics(settings, [topic_set(settings, JOB.topic)])
    environment = os.environ | {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
        "DATABASE_URL": settings.sqlalchemy_url,
        "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
        "LOG_FORMAT": "text",
    }
    processes = [
        subprocess.Popen(
            [STREAMJOBS, "consume", "webhook"],
            env=environment,
            stderr=(tmp_path / f"consumer-{n}.log").open("wb"),
        )
        for n in range(2)
    ]
    try:
        yield processes
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        statuses = [process.wait(60) for process in processes]
    assert statuses == [0, 0]


def webhook_group(settings: Settings) -> dict[str, Any]:
    """The webhook job's entry of ``streamjobs status --json``."""
    done = streamjobs(settings, "status", "--json")
    assert done.returncode == 0, done.stderr
    (job,) = [job for job in json.loads(done.stdout)["jobs"] if job["job"] == "webhook"]
    assert isinstance(job, dict)
    return job


def both_assigned(settings: Settings) -> bool:
    """Both members joined and hold partitions: the rebalance that let the second in is over.

    Counting members is not enough: the second is listed while its join is still
    under way, and a member stopped then was seen to stay in the group after
    both processes had exited (until its session times out).
    """
    members = webhook_group(settings)["members"]
    return len(members) == 2 and all(member["partitions"] for member in members)


def test_two_processes_each_own_partitions_and_together_deliver_everything(
    db: Engine, settings: Settings, consumers: list[subprocess.Popen[bytes]]
) -> None:
    wait_until(lambda: both_assigned(settings), timeout=60, interval=0.5)
    owned = [set(member["partitions"]) for member in webhook_group(settings)["members"]]
    assert owned[0].isdisjoint(owned[1])
    consumed = topic_set(settings, JOB.topic).consumed  # the main topic and its delay topics
    assert owned[0] | owned[1] == {f"{t}:{p}" for t in consumed for p in range(TEST_PARTITIONS)}

    with serving(Receiver()) as receiver:
        endpoint = register(db, receiver)
        with Publisher(settings) as publisher:
            for n in range(EVENTS):  # keyed by event, so the events spread over partitions
                publisher.publish(
                    "webhook.send",
                    {"webhook_id": str(endpoint.id), "event_type": "t", "payload": {"n": n}},
                    event_id=f"evt-{n}",
                    key=f"evt-{n}",
                )
        wait_until(lambda: len(receiver.requests) >= EVENTS, timeout=60)
    delivered = sorted(request.headers["webhook-id"] for request in receiver.requests)
    assert delivered == sorted(f"evt-{n}" for n in range(EVENTS))
    with db.connect() as connection:
        partitions = set(connection.execute(select(webhook_deliveries.c.partition)).scalars())
    assert partitions == set(range(TEST_PARTITIONS)), "every partition had its share"

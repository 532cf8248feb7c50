"""``streamjobs status`` on the real broker and database."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from sqlalchemy import Engine, insert

from consumers.runtime.runner import Runner
from consumers.webhook.job import JOB
from schemas.tables import job_runs
from streamjobs.cli.status import COLUMNS
from streamjobs.kafka import client_config, consumer_config, create_topics
from streamjobs.settings import Settings
from tests.conftest import TEST_PARTITIONS, SettingsFactory
from tests.kafka_support import produce, read_topic, running, wait_until
from tests.streamjobs.cli.support import STREAMJOBS, streamjobs


@pytest.fixture
def topics(settings: Settings) -> Settings:
    """``settings`` with every registry topic created."""
    create_topics(settings)
    return settings


def status_json(settings: Settings, **env: str) -> dict[str, Any]:
    """Run ``streamjobs status --json`` and parse what it prints."""
    done = streamjobs(settings, "status", "--json", **env)
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert isinstance(shown, dict)
    return shown


def job_of(shown: dict[str, Any], job: str) -> dict[str, Any]:
    """The entry of ``job`` in a parsed status."""
    entries: list[dict[str, Any]] = [j for j in shown["jobs"] if j["job"] == job]
    assert len(entries) == 1, entries
    return entries[0]


def test_missing_topics_show_as_missing_with_a_hint(settings: Settings, db: Engine) -> None:
    shown = status_json(settings)
    webhook = job_of(shown, "webhook")
    assert webhook["lag"] == {"main": None, "retries": None}
    assert webhook["dlq"]["missing"] is True
    assert f"{settings.kafka_topic_prefix}webhook.send" in shown["missing_topics"]
    assert shown["hint"] == "run `streamjobs topics create`"
    create_topics(settings)
    after = status_json(settings)
    assert after["missing_topics"] == []
    assert after["hint"] is None
    assert job_of(after, "webhook")["lag"] == {"main": 0, "retries": 0}


def test_lag_counts_unconsumed_events_and_dlq_depth_counts_dead_letters(
    topics: Settings, db: Engine
) -> None:
    webhook_send = f"{topics.kafka_topic_prefix}webhook.send"
    produce(topics, webhook_send, [b"{}"] * 7, spread=TEST_PARTITIONS)
    produce(topics, f"{webhook_send}.dlq", [b"raw"] * 4)
    shown = status_json(topics)
    webhook = job_of(shown, "webhook")
    assert webhook["lag"] == {"main": 7, "retries": 0}
    assert webhook["members"] == []
    assert webhook["group"] == f"{topics.kafka_topic_prefix}streamjobs.webhook"
    assert webhook["dlq"] | {"oldest_at": None} == {
        "topic": f"{webhook_send}.dlq",
        "messages": 4,
        "missing": False,
        "oldest_at": None,
    }
    assert job_of(shown, "email")["lag"] == {"main": 0, "retries": 0}


@pytest.fixture
def member(topics: Settings) -> Iterator[Consumer]:
    """An active member of the webhook group that has read nothing."""
    group = f"{topics.kafka_topic_prefix}streamjobs.webhook"
    consumer = Consumer(
        consumer_config(topics, group) | {"enable.auto.commit": False, "client.id": "probe-1"}
    )
    consumer.subscribe([f"{topics.kafka_topic_prefix}webhook.send"])
    wait_until(lambda: consumer.poll(0.1) is None and bool(consumer.assignment()))
    yield consumer
    consumer.close()


def test_committed_offsets_reduce_the_lag_and_members_are_counted(
    topics: Settings, member: Consumer, db: Engine
) -> None:
    webhook_send = f"{topics.kafka_topic_prefix}webhook.send"
    produce(topics, webhook_send, [b"{}"] * 6, spread=TEST_PARTITIONS)  # 2 a partition
    committed = [TopicPartition(webhook_send, 0, 2), TopicPartition(webhook_send, 1, 1)]
    member.commit(offsets=committed, asynchronous=False)
    webhook = job_of(status_json(topics), "webhook")
    assert webhook["lag"]["main"] == 3
    (shown,) = webhook["members"]
    assert (shown["client_id"], shown["host"]) == ("probe-1", "127.0.0.1")
    assert shown["partitions"] == [f"{webhook_send}:{p}" for p in range(TEST_PARTITIONS)]
    assert webhook["state"] == "stable"


def test_last_cleanup_is_never_then_the_newest_run(settings: Settings, db: Engine) -> None:
    assert status_json(settings)["last_cleanup"]["state"] == "never"
    newest = datetime(2024, 5, 2, tzinfo=UTC)
    with db.begin() as connection:
        for day, outcome in ((newest - timedelta(days=1), "failed"), (newest, "ok")):
            connection.execute(
                insert(job_runs).values(
                    job="cleanup",
                    scheduled_for=day,
                    trigger="schedule",
                    started_at=day + timedelta(hours=1),
                    finished_at=day + timedelta(hours=2),
                    outcome=outcome,
                    result={"deleted": 5},
                )
            )
    cleanup = status_json(settings)["last_cleanup"]
    assert cleanup == {
        "state": "ran",
        "scheduled_for": "2024-05-02T00:00:00+00:00",
        "outcome": "ok",
        "finished_at": "2024-05-02T02:00:00+00:00",
        "result": {"deleted": 5},
        "error": None,
    }


def test_an_unreachable_database_is_reported_in_the_cleanup_field(settings: Settings) -> None:
    url = "postgresql+psycopg://nobody:secret@127.0.0.1:1/none"
    cleanup = status_json(settings, DATABASE_URL=url)["last_cleanup"]
    assert cleanup["state"] == "unavailable"
    assert cleanup["error"].startswith("database unreachable: ")
    assert "secret" not in cleanup["error"]


def test_an_unmigrated_database_is_reported_in_the_cleanup_field(
    settings: Settings, db: Engine
) -> None:
    name = f"status_{uuid.uuid4().hex[:8]}"
    with db.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        url = db.url.set(database=name).render_as_string(hide_password=False)
        cleanup = status_json(settings, DATABASE_URL=url)["last_cleanup"]
    finally:
        with db.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql(f"DROP DATABASE {name}")
    assert cleanup["error"] == "database not migrated; run `streamjobs db upgrade`"


def test_text_mode_prints_a_row_per_job_and_the_last_cleanup(topics: Settings, db: Engine) -> None:
    produce(topics, f"{topics.kafka_topic_prefix}email.send", [b"{}"] * 2)
    started = time.monotonic()
    done = streamjobs(topics, "status")
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert re.split(r" {2,}", lines[0]) == list(COLUMNS)
    assert lines[2].split()[:2] == ["email", f"{topics.kafka_topic_prefix}streamjobs.email"]
    assert lines[2].split()[-4:] == ["2", "0", "0", "-"]
    assert lines[-2] == "last cleanup: never"
    assert lines[-1].startswith("next cleanup: ") and lines[-1].endswith("T03:00:00+00:00")
    assert elapsed < 5, f"status took {elapsed:.1f} s"


def test_a_broker_that_does_not_answer_exits_1_with_one_line(settings: Settings) -> None:
    done = streamjobs(settings, "status", "--timeout", "1", KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("streamjobs: error: cannot read from Kafka: ")


def test_looking_twice_leaves_no_group_behind(topics: Settings, db: Engine) -> None:
    status_json(topics)
    for job in status_json(topics)["jobs"]:
        assert (job["state"], job["members"]) == ("dead", [])


def test_the_oldest_dead_letter_is_aged_from_when_it_was_written(
    topics: Settings, db: Engine
) -> None:
    dlq = f"{topics.kafka_topic_prefix}webhook.send.dlq"
    written = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2, minutes=5)
    producer = Producer(client_config(topics))
    for age in (timedelta(0), timedelta(minutes=30)):  # the older one on another partition
        stamp = int((written + age).timestamp() * 1000)
        producer.produce(dlq, b"{}", partition=int(age.total_seconds()) % 2, timestamp=stamp)
    assert producer.flush(10) == 0
    webhook = job_of(status_json(topics), "webhook")
    assert webhook["dlq"]["oldest_at"] == written.isoformat()
    (row,) = [
        line for line in streamjobs(topics, "status").stdout.splitlines() if "webhook" in line
    ]
    assert row.split()[-1] == "2h5m"


def test_check_exits_1_for_a_group_with_lag_and_no_members(
    topics: Settings, db: Engine, tmp_path: Path
) -> None:
    state = str(tmp_path / "check.json")
    assert streamjobs(topics, "status", "--check", "--state-file", state).returncode == 0
    produce(topics, f"{topics.kafka_topic_prefix}email.send", [b"{}"])
    done = streamjobs(topics, "status", "--check", "--state-file", state)
    assert done.returncode == 1
    group = f"{topics.kafka_topic_prefix}streamjobs.email"
    assert done.stdout.splitlines()[-1] == f"check: email: lag 1 and no members in {group}"


def test_check_exits_1_once_for_each_growth_of_a_dlq(
    topics: Settings, db: Engine, tmp_path: Path
) -> None:
    state = str(tmp_path / "check.json")
    dlq = f"{topics.kafka_topic_prefix}audit.cleanup.dlq"
    produce(topics, dlq, [b"{}"])  # before the first check: the baseline
    assert streamjobs(topics, "status", "--check", "--state-file", state).returncode == 0
    produce(topics, dlq, [b"{}", b"{}"])
    done = streamjobs(topics, "status", "--check", "--json", "--state-file", state)
    assert done.returncode == 1
    assert json.loads(done.stdout)["problems"] == [f"cleanup: 2 new dead letters in {dlq}"]
    assert streamjobs(topics, "status", "--check", "--state-file", state).returncode == 0


def test_status_follows_a_running_consumer_lag_to_zero_with_its_member_and_dlq(
    make_settings: SettingsFactory, db: Engine
) -> None:
    settings = make_settings(retry_delays=(0.1,))
    create_topics(settings)
    unknown = [
        json.dumps({"webhook_id": str(uuid.uuid4()), "event_type": "t", "payload": {}}).encode()
        for _ in range(5)
    ]  # no such endpoints: each is dead-lettered at once
    produce(settings, f"{settings.kafka_topic_prefix}webhook.send", unknown)
    assert job_of(status_json(settings), "webhook")["lag"]["main"] == 5
    with running(Runner([JOB], settings)):
        read_topic(settings, f"{settings.kafka_topic_prefix}webhook.send.dlq", count=5)

        def caught_up() -> bool:
            webhook = job_of(status_json(settings), "webhook")
            return webhook["lag"]["main"] == 0 and len(webhook["members"]) == 1

        wait_until(caught_up)
        webhook = job_of(status_json(settings), "webhook")
    assert webhook["dlq"]["messages"] == 5
    assert webhook["state"] == "stable"


def test_watch_prints_a_fresh_report_every_interval_until_ctrl_c(
    topics: Settings, db: Engine
) -> None:
    environment = os.environ | {
        "KAFKA_BOOTSTRAP_SERVERS": topics.kafka_bootstrap_servers,
        "KAFKA_TOPIC_PREFIX": topics.kafka_topic_prefix,
        "DATABASE_URL": topics.sqlalchemy_url,
    }
    watcher = subprocess.Popen(
        [STREAMJOBS, "status", "--watch", "0.2", "--json"],
        env=environment,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert watcher.stdout is not None
    first = json.loads(watcher.stdout.readline())
    produce(topics, f"{topics.kafka_topic_prefix}email.send", [b"{}"])
    later = first
    while job_of(later, "email")["lag"]["main"] == 0:
        later = json.loads(watcher.stdout.readline())
    watcher.send_signal(signal.SIGINT)
    assert watcher.wait(30) == 0
    assert later["taken_at"] > first["taken_at"]

"""``streamjobs consume cleanup`` in a subprocess: a killed run resumes; Sentry Crons hear it."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select, text

from consumers.cleanup.monitor import MONITOR_SLUG
from producers import Publisher
from schemas.events import AuditCleanup
from schemas.tables import audit_logs, job_runs, system_logs
from schemas.topics import AUDIT_CLEANUP, TopicSet
from streamjobs.kafka import create_topics, topic_set
from streamjobs.settings import Settings
from tests.consumers.cleanup.support import count, results, runs
from tests.kafka_support import wait_until
from tests.sentry_support import SentryInbox
from tests.streamjobs.cli.support import spawn

SLOT = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
OLD = SLOT - timedelta(days=91)
ROWS = 20_000
"""Old audit rows: at 50 per batch a run takes long enough to be killed in the middle."""


@pytest.fixture
def cleanup_topics(settings: Settings) -> TopicSet:
    topics = topic_set(settings, AUDIT_CLEANUP)
    create_topics(settings, [topics])
    return topics


@pytest.fixture
def consumers(settings: Settings, tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Consumer subprocesses a test starts; any still running are killed afterwards."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(30)


def consume(
    settings: Settings, started: list[subprocess.Popen[bytes]], log: Path, **env: str
) -> subprocess.Popen[bytes]:
    process = spawn(settings, "consume", "cleanup", stderr=log, **env)
    started.append(process)
    return process


def fill(db: Engine, rows: int) -> None:
    with db.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO audit_logs (created_at, action)"
                " SELECT :old, 'old' FROM generate_series(1, :rows)"
            ),
            {"old": OLD, "rows": rows},
        )
        connection.execute(insert(system_logs).values(created_at=OLD, message="old"))
        connection.execute(insert(audit_logs).values(created_at=SLOT, action="recent"))


def deleted_so_far(db: Engine) -> int:
    with db.connect() as connection:
        result = connection.scalar(select(job_runs.c.result))
    return 0 if result is None else int(result["deleted"]["audit_logs"])


def publish(settings: Settings) -> None:
    Publisher(settings).publish(
        "audit.cleanup", AuditCleanup(scheduled_for=SLOT), event_id="audit.cleanup:2026-12-01"
    )


def test_a_consumer_killed_in_the_middle_of_a_run_resumes_and_counts_each_row_once(
    settings: Settings,
    cleanup_topics: TopicSet,
    db: Engine,
    consumers: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    fill(db, ROWS)
    publish(settings)
    log = tmp_path / "consumer.log"
    first = consume(settings, consumers, log, CLEANUP_BATCH_SIZE="50")
    wait_until(lambda: deleted_so_far(db) > 0, timeout=60)
    first.send_signal(signal.SIGKILL)
    first.wait(30)
    interrupted_at = deleted_so_far(db)
    assert 0 < interrupted_at < ROWS, "the kill came too late to interrupt the run"
    assert results(db) == []
    second = consume(settings, consumers, log, CLEANUP_BATCH_SIZE="50")
    wait_until(lambda: len(results(db)) == 1, timeout=120)
    second.send_signal(signal.SIGTERM)
    assert second.wait(60) == 0, log.read_text()
    (result,) = results(db)
    assert result["deleted"] == {"audit_logs": ROWS, "system_logs": 1}
    assert count(db, audit_logs) == 1
    (run,) = runs(db)
    assert run.outcome == "ok"


def test_sentry_crons_sees_in_progress_then_ok_with_the_monitor_config(
    settings: Settings,
    cleanup_topics: TopicSet,
    db: Engine,
    consumers: list[subprocess.Popen[bytes]],
    tmp_path: Path,
    sentry_inbox: SentryInbox,
) -> None:
    fill(db, 10)
    publish(settings)
    log = tmp_path / "consumer.log"
    process = consume(
        settings,
        consumers,
        log,
        SENTRY_DSN=sentry_inbox.dsn,
        CLEANUP_MONITOR_CHECKIN_MARGIN="5m",
        CLEANUP_MONITOR_MAX_RUNTIME="90s",
    )
    wait_until(lambda: len(sentry_inbox.items("check_in")) >= 2, timeout=60)
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0, log.read_text()
    started, finished = sentry_inbox.items("check_in")
    assert [started["status"], finished["status"]] == ["in_progress", "ok"]
    assert started["check_in_id"] == finished["check_in_id"]
    assert started["monitor_slug"] == finished["monitor_slug"] == MONITOR_SLUG
    assert finished["duration"] >= 0
    assert started["monitor_config"] == {
        "schedule": {"type": "crontab", "value": "0 3 * * *"},
        "timezone": "UTC",
        "checkin_margin": 5,
        "max_runtime": 2,
    }


def test_a_redelivered_slot_sends_no_check_in_and_no_second_result(
    settings: Settings,
    cleanup_topics: TopicSet,
    db: Engine,
    consumers: list[subprocess.Popen[bytes]],
    tmp_path: Path,
    sentry_inbox: SentryInbox,
) -> None:
    fill(db, 10)
    publish(settings)
    publish(settings)
    log = tmp_path / "consumer.log"
    process = consume(settings, consumers, log, SENTRY_DSN=sentry_inbox.dsn)
    wait_until(lambda: "cleanup already done" in log.read_text(), timeout=60)
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0, log.read_text()
    assert len(results(db)) == 1
    assert [item["status"] for item in sentry_inbox.items("check_in")] == ["in_progress", "ok"]

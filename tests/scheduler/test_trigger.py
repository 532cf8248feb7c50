"""POST /api/cron/cleanup and GET /healthz on a running scheduler, the broker and database real."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from consumers.cleanup.job import JOB
from consumers.runtime.runner import Runner
from scheduler.service import SchedulerService
from schemas.topics import TopicSet
from streamjobs.settings import Settings
from tests.conftest import SettingsFactory
from tests.consumers.cleanup.support import results, runs
from tests.kafka_support import committed_offsets, read_topic, running, wait_until
from tests.scheduler.conftest import SECRET
from tests.scheduler.support import FixedClock, Reply, request, serving

PATH = "/api/cron/cleanup"
NOW = datetime(2026, 12, 1, 14, 5, 7, tzinfo=UTC)


def scheduler(settings: Settings) -> SchedulerService:
    # Late in the day with no grace: no catch-up muddles what the trigger published.
    return SchedulerService(
        settings.model_copy(update={"cleanup_catchup_grace": 0.0}), clock=FixedClock(NOW)
    )


@pytest.mark.parametrize("token", [None, "wrong", SECRET + "x", ""])
def test_a_missing_or_wrong_token_gets_401_and_publishes_nothing(
    scheduler_settings: Settings, cleanup_topics: TopicSet, token: str | None
) -> None:
    with serving(scheduler(scheduler_settings)) as service:
        reply = request(service, PATH, method="POST", token=token)
    assert reply.status == 401
    assert SECRET not in json.dumps(reply.body)


def test_the_right_token_gets_202_with_the_event_id_of_a_manual_run(
    scheduler_settings: Settings, cleanup_topics: TopicSet
) -> None:
    with serving(scheduler(scheduler_settings)) as service:
        reply = request(service, PATH, method="POST", token=SECRET, body=b'{"retention_days": 30}')
    assert reply == Reply(202, {"event_id": "audit.cleanup:manual:2026-12-01T14:05"})
    (record,) = read_topic(scheduler_settings, cleanup_topics.main, count=1)
    assert record.headers["event-id"] == "audit.cleanup:manual:2026-12-01T14:05"
    assert json.loads(record.value or b"") == {
        "scheduled_for": "2026-12-01T14:05:00Z",
        "retention_days": 30,
        "trigger": "manual",
    }


def test_without_cron_secret_every_trigger_gets_503(
    make_settings: SettingsFactory, cleanup_topics: TopicSet
) -> None:
    with serving(scheduler(make_settings(scheduler_http_port=0))) as service:
        assert request(service, PATH, method="POST").status == 503
        assert request(service, PATH, method="POST", token="anything").status == 503


@pytest.mark.parametrize(
    "body",
    [
        b'{"retention_days": 0}',
        b'{"retention_days": 3651}',
        b'{"retention_days": "30"}',
        b'{"retention_days": 7.5}',
        b'{"retention_days": true}',
        b'{"days": 30}',
        b"[30]",
        b"not json",
        b"\xff\xfe",
    ],
)
def test_a_bad_body_gets_400_with_the_reason(
    scheduler_settings: Settings, cleanup_topics: TopicSet, body: bytes
) -> None:
    with serving(scheduler(scheduler_settings)) as service:
        reply = request(service, PATH, method="POST", token=SECRET, body=body)
    assert reply.status == 400
    assert reply.body["error"]


@pytest.mark.parametrize(
    "body", [b"", b"{}", b'{"retention_days": null}', b'{"retention_days": 1}']
)
def test_an_empty_or_valid_body_is_accepted(
    scheduler_settings: Settings, cleanup_topics: TopicSet, body: bytes
) -> None:
    with serving(scheduler(scheduler_settings)) as service:
        assert request(service, PATH, method="POST", token=SECRET, body=body).status == 202


def test_two_posts_in_one_minute_share_an_event_id_and_run_once(
    scheduler_settings: Settings, cleanup_topics: TopicSet, db: Engine
) -> None:
    clock = FixedClock(NOW)
    service = SchedulerService(
        scheduler_settings.model_copy(update={"cleanup_catchup_grace": 0.0}), clock=clock
    )
    with serving(service):
        first = request(service, PATH, method="POST", token=SECRET)
        clock.now = NOW.replace(second=59)
        second = request(service, PATH, method="POST", token=SECRET)
    assert first == second
    assert first.status == 202
    with running(Runner([JOB], scheduler_settings)):
        wait_until(
            lambda: (
                sum(
                    committed_offsets(scheduler_settings, cleanup_topics.group, cleanup_topics.main)
                )
                == 2
            )
        )
    assert len(runs(db)) == len(results(db)) == 1
    assert runs(db)[0].trigger == "manual"


def test_healthz_answers_200_with_the_next_slot(
    scheduler_settings: Settings, cleanup_topics: TopicSet
) -> None:
    with serving(scheduler(scheduler_settings)) as service:
        reply = request(service, "/healthz")
    assert reply.status == 200
    assert reply.body == {
        "status": "ok",
        "next_slot": "2026-12-02T03:00:00+00:00",
        "pending_slot": None,
    }

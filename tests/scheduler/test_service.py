"""The scheduler's loop on the real broker and database: catch-up, several schedulers, failures."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from consumers.cleanup.job import JOB
from consumers.runtime.runner import Runner
from scheduler.service import SchedulerService, check_bind, is_loopback
from scheduler.slots import next_slot
from schemas.tables import job_runs
from schemas.topics import TopicSet
from streamjobs.errors import ConfigError
from streamjobs.settings import Settings
from tests.consumers.cleanup.support import results, runs
from tests.kafka_support import committed_offsets, end_offsets, read_topic, running, wait_until
from tests.scheduler.support import FixedClock, request, serving

SLOT = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def published(settings: Settings, topics: TopicSet) -> int:
    return sum(end_offsets(settings, topics.main))


def test_on_start_a_missed_slot_within_the_grace_is_published_exactly_once(
    scheduler_settings: Settings, cleanup_topics: TopicSet, db: Engine
) -> None:
    service = SchedulerService(scheduler_settings, clock=FixedClock(SLOT + 5 * HOUR))
    with serving(service):
        wait_until(lambda: published(scheduler_settings, cleanup_topics) >= 1)
        # Many loop turns later there is still one event, not one per turn or per missed day.
        wait_until(lambda: service.health()[1]["pending_slot"] is None)
    (record,) = read_topic(scheduler_settings, cleanup_topics.main, count=1)
    assert record.headers["event-id"] == "audit.cleanup:2026-12-01"
    assert json.loads(record.value or b"") == {
        "scheduled_for": "2026-12-01T03:00:00Z",
        "trigger": "schedule",
    }
    assert published(scheduler_settings, cleanup_topics) == 1


def test_a_slot_with_a_finished_run_is_not_caught_up(
    scheduler_settings: Settings, cleanup_topics: TopicSet, db: Engine
) -> None:
    with db.begin() as connection:
        connection.execute(
            job_runs.insert().values(
                job="cleanup",
                scheduled_for=SLOT,
                trigger="schedule",
                finished_at=SLOT,
                outcome="ok",
            )
        )
    with serving(SchedulerService(scheduler_settings, clock=FixedClock(SLOT + HOUR))) as service:
        assert request(service, "/healthz").status == 200
    assert published(scheduler_settings, cleanup_topics) == 0


def test_a_slot_older_than_the_grace_is_not_caught_up(
    scheduler_settings: Settings, cleanup_topics: TopicSet, db: Engine
) -> None:
    clock = FixedClock(SLOT + 21 * HOUR)
    with serving(SchedulerService(scheduler_settings, clock=clock)) as service:
        assert request(service, "/healthz").body["pending_slot"] is None
    assert published(scheduler_settings, cleanup_topics) == 0


def test_two_schedulers_started_together_yield_one_run_for_the_day(
    scheduler_settings: Settings, cleanup_topics: TopicSet, db: Engine
) -> None:
    clock = FixedClock(SLOT + HOUR)
    with (
        serving(SchedulerService(scheduler_settings, clock=clock)),
        serving(SchedulerService(scheduler_settings, clock=clock)),
    ):
        wait_until(lambda: published(scheduler_settings, cleanup_topics) == 2)
    with running(Runner([JOB], scheduler_settings)):
        wait_until(
            lambda: (
                sum(
                    committed_offsets(scheduler_settings, cleanup_topics.group, cleanup_topics.main)
                )
                == 2
            )
        )
    (run,) = runs(db)
    assert (run.scheduled_for, run.trigger, run.outcome) == (SLOT, "schedule", "ok")
    assert len(results(db)) == 1


def test_reaching_the_slot_publishes_it(
    scheduler_settings: Settings, cleanup_topics: TopicSet, db: Engine
) -> None:
    clock = FixedClock(SLOT - timedelta(seconds=1))
    service = SchedulerService(scheduler_settings, clock=clock)
    with serving(service):
        assert published(scheduler_settings, cleanup_topics) == 0
        clock.now = SLOT + timedelta(milliseconds=5)
        service.slot_reached()
        wait_until(lambda: published(scheduler_settings, cleanup_topics) == 1)
    (record,) = read_topic(scheduler_settings, cleanup_topics.main, count=1)
    assert record.headers["event-id"] == "audit.cleanup:2026-12-01"


def test_the_schedule_fires_at_the_next_slot_in_utc(scheduler_settings: Settings) -> None:
    service = SchedulerService(scheduler_settings)
    fires = service.next_run()
    assert fires is not None
    assert fires == next_slot(datetime.now(UTC)) or fires == next_slot(datetime.now(UTC)) - (
        timedelta(days=1)  # the clock crossed 03:00 between the two readings
    )


def test_a_failing_publish_turns_healthz_503_and_the_loop_keeps_retrying(
    scheduler_settings: Settings,
) -> None:
    unreachable = scheduler_settings.model_copy(update={"kafka_bootstrap_servers": "127.0.0.1:1"})
    service = SchedulerService(unreachable, clock=FixedClock(SLOT + HOUR), publish_timeout=0.5)
    with serving(service):
        wait_until(lambda: request(service, "/healthz").status == 503, timeout=30)
        reply = request(service, "/healthz")
        assert reply.body["status"] == "failing"
        assert reply.body["pending_slot"] == SLOT.isoformat()


def test_a_non_loopback_bind_needs_cron_secret(scheduler_settings: Settings) -> None:
    open_bind = scheduler_settings.model_copy(
        update={"scheduler_http_host": "0.0.0.0", "cron_secret": None}
    )
    with pytest.raises(ConfigError, match="CRON_SECRET"):
        check_bind(open_bind)
    check_bind(scheduler_settings.model_copy(update={"scheduler_http_host": "0.0.0.0"}))
    check_bind(open_bind.model_copy(update={"scheduler_http_host": "127.0.0.1"}))


def test_loopback_addresses() -> None:
    assert all(map(is_loopback, ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "10.0.0.1", "example.com", "192.168.1.2"]))


class ClockFailingOnce(FixedClock):
    """A fixed clock whose ``fail_on``-th reading raises."""

    def __init__(self, now: datetime, *, fail_on: int) -> None:
        super().__init__(now)
        self.readings = 0
        self._fail_on = fail_on

    def __call__(self) -> datetime:
        self.readings += 1
        if self.readings == self._fail_on:
            raise RuntimeError("the clock broke once")
        return super().__call__()


def test_an_exception_in_the_loop_is_logged_and_the_loop_goes_on(
    scheduler_settings: Settings,
    cleanup_topics: TopicSet,
    db: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Reading 1 is the catch-up's; reading 2, in the loop's first publish, raises.
    clock = ClockFailingOnce(SLOT + HOUR, fail_on=2)
    with serving(SchedulerService(scheduler_settings, clock=clock)):
        wait_until(lambda: published(scheduler_settings, cleanup_topics) == 1)
    assert clock.readings > 2
    errors = [record for record in caplog.records if record.message == "scheduler loop error"]
    assert len(errors) == 1
    assert errors[0].exc_info is not None

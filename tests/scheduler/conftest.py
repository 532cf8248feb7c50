"""Fixtures for scheduler tests: settings with the trigger on a free port, the cleanup topic."""

from __future__ import annotations

import pytest

from schemas.topics import AUDIT_CLEANUP, TopicSet
from streamjobs.kafka import create_topics, topic_set
from streamjobs.settings import Settings
from tests.conftest import SettingsFactory

SECRET = "cron-secret-for-tests"
"""The ``CRON_SECRET`` of ``scheduler_settings``."""


@pytest.fixture
def scheduler_settings(make_settings: SettingsFactory) -> Settings:
    """A secret, any free port, short retries for the consumer."""
    return make_settings(cron_secret=SECRET, scheduler_http_port=0, retry_delays=(0.5,))


@pytest.fixture
def cleanup_topics(scheduler_settings: Settings) -> TopicSet:
    """``audit.cleanup`` and its delay and dead-letter topics under the test's prefix."""
    topics = topic_set(scheduler_settings, AUDIT_CLEANUP)
    create_topics(scheduler_settings, [topics])
    return topics

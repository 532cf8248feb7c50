"""Fixtures for runtime tests: the probe job's topics, created per test."""

from __future__ import annotations

import pytest

from schemas.topics import TopicSet
from streamjobs.kafka import create_topics, topic_set
from streamjobs.settings import Settings
from tests.consumers.runtime.probe import PROBE_TOPIC


@pytest.fixture
def probe_topics(settings: Settings) -> TopicSet:
    """The probe's main, delay and dead-letter topics under the test's prefix."""
    topics = topic_set(settings, PROBE_TOPIC)
    create_topics(settings, [topics])
    return topics

"""Fixtures on the real services: settings with a unique topic prefix, a migrated database."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

from schemas.tables import metadata
from streamjobs import database
from streamjobs.settings import Settings, load_settings
from tests.sentry_support import SentryInbox, receiving_sentry
from tests.services import Services, discover

TEST_PARTITIONS = 3
"""Partitions of each test topic; fewer than production's 6 keeps topic creation quick."""

SettingsFactory = Callable[..., Settings]


@pytest.fixture(scope="session")
def services() -> Iterator[Services]:
    """The Kafka broker and PostgreSQL server under test."""
    with discover() as found:
        yield found


@pytest.fixture
def make_settings(services: Services) -> SettingsFactory:
    """Settings pointing at the services, with a topic prefix unique to this test.

    Keyword arguments override settings by field name (``retry_delays=(0.2,)``).
    """
    prefix = f"test-{uuid.uuid4().hex[:10]}."

    def make(**overrides: Any) -> Settings:
        base: dict[str, Any] = {
            "kafka_bootstrap_servers": services.kafka_bootstrap_servers,
            "database_url": services.database_url,
            "kafka_topic_prefix": prefix,
            "kafka_topic_partitions": TEST_PARTITIONS,
            "log_format": "text",
        }
        return load_settings(**(base | overrides))

    return make


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    """Default test settings: unique prefix, short retry delays."""
    return make_settings(retry_delays=(0.5, 1.0))


@pytest.fixture(scope="session")
def migrated_engine(services: Services) -> Iterator[Engine]:
    """An engine on a database migrated to the newest revision (once per session)."""
    session_settings = load_settings(database_url=services.database_url)
    database.upgrade(session_settings)
    engine = database.sync_engine(session_settings)
    yield engine
    engine.dispose()


@pytest.fixture
def db(migrated_engine: Engine) -> Engine:
    """The migrated database, with every table emptied before the test."""
    names = ", ".join(table.name for table in metadata.sorted_tables)
    with migrated_engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))
    return migrated_engine


@pytest.fixture
def sentry_inbox() -> Iterator[SentryInbox]:
    """A local stand-in for Sentry's ingest; point ``SENTRY_DSN`` at ``sentry_inbox.dsn``."""
    with receiving_sentry() as inbox:
        yield inbox

"""Finds the Kafka broker and PostgreSQL server the tests run against.

Order: ``KAFKA_BOOTSTRAP_SERVERS`` / ``DATABASE_URL`` from the environment;
testcontainers (Redpanda, PostgreSQL) when a Docker daemon answers; else the
local services of ``make services``. A service that does not answer fails the
run with a message saying how to start it; nothing is skipped.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

from confluent_kafka.admin import AdminClient
from sqlalchemy import create_engine, text

from streamjobs.settings import LOCAL_DATABASE_URL

LOCAL_KAFKA = "127.0.0.1:9092"
"""The broker ``make services`` starts."""

REDPANDA_IMAGE = "docker.redpanda.com/redpandadata/redpanda:v25.2.10"
"""Redpanda image for testcontainers when a Docker daemon answers."""

POSTGRES_IMAGE = "postgres:17"
"""PostgreSQL image for testcontainers when a Docker daemon answers."""


class ServiceUnavailableError(RuntimeError):
    """A service the tests need does not answer."""


@dataclass(frozen=True)
class Services:
    """Addresses of the services under test."""

    kafka_bootstrap_servers: str
    database_url: str


def _docker_answers() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env().ping()
    except Exception:  # any failure means: no usable daemon
        return False
    return True


@contextlib.contextmanager
def discover() -> Iterator[Services]:
    """Yield reachable services, starting containers when that is the way."""
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    database = os.environ.get("DATABASE_URL")
    with contextlib.ExitStack() as stack:
        if (kafka is None or database is None) and _docker_answers():
            from testcontainers.kafka import RedpandaContainer
            from testcontainers.postgres import PostgresContainer

            if kafka is None:
                kafka = stack.enter_context(
                    RedpandaContainer(REDPANDA_IMAGE)
                ).get_bootstrap_server()
            if database is None:
                postgres = stack.enter_context(PostgresContainer(POSTGRES_IMAGE, driver="psycopg"))
                database = postgres.get_connection_url()
        services = Services(kafka or LOCAL_KAFKA, database or LOCAL_DATABASE_URL)
        check_kafka(services.kafka_bootstrap_servers)
        check_database(services.database_url)
        yield services


def check_kafka(bootstrap: str) -> None:
    """Raise ServiceUnavailableError unless a broker answers at ``bootstrap``."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        admin.list_topics(timeout=10)
    except Exception as exc:
        raise ServiceUnavailableError(
            f"no Kafka broker answers at {bootstrap} ({exc}); start one with `make services`"
        ) from None


def check_database(url: str) -> None:
    """Raise ServiceUnavailableError unless PostgreSQL answers at ``url``."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as connection:
            connection.execute(text("select 1"))
    except Exception as exc:
        raise ServiceUnavailableError(
            f"PostgreSQL does not answer ({type(exc).__name__}); start it with `make services`"
        ) from None
    finally:
        engine.dispose()

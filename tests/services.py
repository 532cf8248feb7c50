"""Finds the Kafka broker and PostgreSQL server the tests run against.

Order: ``KAFKA_BOOTSTRAP_SERVERS`` / ``DATABASE_URL`` from the environment;
testcontainers (Redpanda, PostgreSQL) when a Docker daemon answers; else the
local services of ``make services``. A service that does not answer fails the
run with a message saying how to start it; nothing is skipped. Tests use the
database ``<name>_test`` beside the configured one, never the configured one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

from confluent_kafka.admin import AdminClient
from sqlalchemy import create_engine, make_url, text

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
        check_kafka(kafka or LOCAL_KAFKA)
        yield Services(kafka or LOCAL_KAFKA, test_database(database or LOCAL_DATABASE_URL))


def check_kafka(bootstrap: str) -> None:
    """Raise ServiceUnavailableError unless a broker answers at ``bootstrap``."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        admin.list_topics(timeout=10)
    except Exception as exc:
        raise ServiceUnavailableError(
            f"no Kafka broker answers at {bootstrap} ({exc}); start one with `make services`"
        ) from None


def delete_topics(bootstrap: str, prefix: str) -> None:
    """Delete every topic whose name starts with ``prefix``; waits for the broker's answer."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    doomed = [name for name in admin.list_topics(timeout=10).topics if name.startswith(prefix)]
    if not doomed:
        return
    for future in admin.delete_topics(doomed, operation_timeout=10).values():
        future.result()


def test_database(url: str) -> str:
    """The URL of ``<database>_test`` on the server of ``url``, created when missing.

    Tests empty every table before each test, so they never touch the
    database that ``make run`` (or a developer) keeps data in.

    Raises:
        ServiceUnavailableError: the server does not answer, or refuses to
            create the test database.
    """
    given = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"{given.database}_test"
    engine = create_engine(given, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
            if exists is None:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        raise ServiceUnavailableError(
            f"PostgreSQL at {given.host}:{given.port} does not answer or cannot create "
            f"{name} ({type(exc).__name__}); start it with `make services`"
        ) from None
    finally:
        engine.dispose()
    return given.set(database=name).render_as_string(hide_password=False)

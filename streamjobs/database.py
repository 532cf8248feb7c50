"""Database engines, migrations, and PostgreSQL's failures told in one line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.util import CommandError
from sqlalchemy import URL, Engine, create_engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InterfaceError, OperationalError

from streamjobs.errors import ConfigError, OperationRefused, ServiceUnavailable
from streamjobs.redact import address
from streamjobs.settings import Settings

POOL_SIZE = 10
"""Connections each engine keeps open; job writes are batched, so few are needed."""


def sync_engine(settings: Settings) -> Engine:
    """A pooled engine; asyncio code calls it through ``asyncio.to_thread``."""
    return create_engine(settings.sqlalchemy_url, pool_size=POOL_SIZE, pool_pre_ping=True)


def libpq_url(url: str | URL) -> str:
    """A SQLAlchemy URL (``DATABASE_URL``) as libpq reads it, for psycopg's own connections."""
    libpq = make_url(url).set(drivername="postgresql")
    return libpq.render_as_string(hide_password=False)


@contextmanager
def failures_reported(settings: Settings) -> Iterator[None]:
    """Turn the database's failures inside the block into the project's errors.

    Raises:
        ServiceUnavailable: PostgreSQL could not be reached (or refused the login).
        OperationRefused: it answered and refused a statement (a missing table, say).
        ConfigError: SQLAlchemy could not read ``DATABASE_URL``.
    """
    where = address(settings.sqlalchemy_url)
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        raise ServiceUnavailable("PostgreSQL", where, _cause(exc)) from None
    except DBAPIError as exc:
        hint = " (has `streamjobs db upgrade` run?)" if "does not exist" in str(exc.orig) else ""
        raise OperationRefused(f"PostgreSQL at {where} refused: {_cause(exc)}{hint}") from None
    except ArgumentError:
        raise ConfigError("DATABASE_URL: SQLAlchemy cannot read it as a database URL") from None


def _cause(exc: DBAPIError) -> str:
    """The driver's reason, such as ``Connection refused``, without the DSN around it."""
    first = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc).__name__
    return first.rsplit(" failed: ", 1)[-1].removeprefix("FATAL:").strip()


def alembic_config(settings: Settings) -> Config:
    """Alembic configuration for the packaged migrations, pointed at ``DATABASE_URL``."""
    config = Config()
    config.set_main_option("script_location", str(files("schemas") / "migrations"))
    # ConfigParser interpolation would read a '%' in a password as a placeholder.
    config.set_main_option("sqlalchemy.url", settings.sqlalchemy_url.replace("%", "%%"))
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Migrate the database up to ``revision`` (default: the newest).

    Raises:
        ConfigError: Alembic knows no such revision.
    """
    with _revision_checked():
        command.upgrade(alembic_config(settings), revision)


def downgrade(settings: Settings, revision: str) -> None:
    """Migrate the database down to ``revision`` (``base`` drops every table).

    Raises:
        ConfigError: Alembic knows no such revision.
    """
    with _revision_checked():
        command.downgrade(alembic_config(settings), revision)


@contextmanager
def _revision_checked() -> Iterator[None]:
    try:
        yield
    except CommandError as exc:
        raise ConfigError(f"revision: {exc}") from None


def current_revision(settings: Settings) -> str | None:
    """The revision the database is at, or None before the first migration."""
    engine = create_engine(settings.sqlalchemy_url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()

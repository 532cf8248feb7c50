"""Database engines and migrations."""

from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine

from streamjobs.settings import Settings

POOL_SIZE = 10
"""Connections each engine keeps open; job writes are batched, so few are needed."""


def sync_engine(settings: Settings) -> Engine:
    """A pooled engine; asyncio code calls it through ``asyncio.to_thread``."""
    return create_engine(settings.sqlalchemy_url, pool_size=POOL_SIZE, pool_pre_ping=True)


def alembic_config(settings: Settings) -> Config:
    """Alembic configuration for the packaged migrations, pointed at ``DATABASE_URL``."""
    config = Config()
    config.set_main_option("script_location", str(files("schemas") / "migrations"))
    # ConfigParser interpolation would read a '%' in a password as a placeholder.
    config.set_main_option("sqlalchemy.url", settings.sqlalchemy_url.replace("%", "%%"))
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Migrate the database up to ``revision`` (default: the newest)."""
    command.upgrade(alembic_config(settings), revision)


def downgrade(settings: Settings, revision: str) -> None:
    """Migrate the database down to ``revision`` (``base`` drops every table)."""
    command.downgrade(alembic_config(settings), revision)


def current_revision(settings: Settings) -> str | None:
    """The revision the database is at, or None before the first migration."""
    engine = create_engine(settings.sqlalchemy_url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()

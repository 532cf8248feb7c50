"""Alembic environment: migrates the database that the caller's config names."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from schemas.tables import metadata

config = context.config


def run_migrations() -> None:
    """Run migrations online, on the URL set by ``streamjobs.database.alembic_config``."""
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "", poolclass=NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()

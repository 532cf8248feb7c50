"""Alembic migrations of the streamjobs schema (run with ``streamjobs db upgrade``)."""

"""Database tables, as SQLAlchemy Core metadata.

The migrations under ``schemas/migrations`` create exactly these tables; a
test compares the two.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

metadata = MetaData()
"""Every table streamjobs reads or writes."""


def _created_at() -> Column[object]:
    return Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now())


audit_logs = Table(
    "audit_logs",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    _created_at(),
    Column("actor", Text),
    Column("action", Text),
    Column("target", Text),
    Column("metadata", JSONB),
    Index("ix_audit_logs_created_at", "created_at"),
)

system_logs = Table(
    "system_logs",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    _created_at(),
    Column("level", Text, nullable=False, server_default="info"),
    Column("source", Text),
    Column("message", Text),
    Column("context", JSONB),
    Index("ix_system_logs_created_at", "created_at"),
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")),
    Column("url", Text, nullable=False),
    Column("secret", Text, nullable=False),
    Column("previous_secret", Text),
    Column("previous_secret_expires_at", DateTime(timezone=True)),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("disabled_at", DateTime(timezone=True)),
    Column("disabled_reason", Text),
    Column("description", Text),
    _created_at(),
)

DELIVERIES_FILLFACTOR = 50
"""Percent of each ``webhook_deliveries`` page that inserts fill. Every row is
written twice (``pending``, then its outcome); with room left on its page the
second version is a heap-only update, which touches no index."""

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("event_id", Text, nullable=False),
    Column("webhook_id", UUID(as_uuid=True), nullable=False),
    Column("attempt", SmallInteger, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("http_status", SmallInteger),
    Column("error_code", Text),
    Column("error_message", Text),
    Column("duration_ms", Integer),
    Column("response_excerpt", Text),
    Column("topic", Text),
    Column("partition", Integer),
    Column("offset", BigInteger),
    _created_at(),
    Column("sends", SmallInteger, nullable=False, server_default=text("1")),
    UniqueConstraint("event_id", "webhook_id", "attempt", name="uq_webhook_deliveries_attempt"),
    Index("ix_webhook_deliveries_webhook_created", "webhook_id", "created_at"),
    postgresql_with={"fillfactor": DELIVERIES_FILLFACTOR},
)

email_deliveries = Table(
    "email_deliveries",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("event_id", Text, nullable=False),
    Column("chunk", Integer, nullable=False),
    Column("resend_ids", ARRAY(Text)),
    Column("recipients", Integer),
    Column("outcome", Text, nullable=False),
    Column("error", Text),
    _created_at(),
    Index(
        "uq_email_deliveries_sent_chunk",
        "event_id",
        "chunk",
        unique=True,
        postgresql_where=text("outcome = 'sent'"),
    ),
)

job_runs = Table(
    "job_runs",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("job", Text, nullable=False),
    Column("scheduled_for", DateTime(timezone=True), nullable=False),
    Column("trigger", Text, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("finished_at", DateTime(timezone=True)),
    Column("outcome", Text),
    Column("result", JSONB),
    UniqueConstraint("job", "scheduled_for", name="uq_job_runs_job_scheduled_for"),
)

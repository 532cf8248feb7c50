"""Initial schema: logs, webhooks and their deliveries, email deliveries, job runs.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True)


def _created_at() -> sa.Column[object]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )


def upgrade() -> None:
    op.create_table(
        "audit_logs",
        _id(),
        _created_at(),
        sa.Column("actor", sa.Text()),
        sa.Column("action", sa.Text()),
        sa.Column("target", sa.Text()),
        sa.Column("metadata", postgresql.JSONB()),
    )
    op.create_index("ix_audit_logs_created_at", "audit_logs", ["created_at"])

    op.create_table(
        "system_logs",
        _id(),
        _created_at(),
        sa.Column("level", sa.Text(), nullable=False, server_default="info"),
        sa.Column("source", sa.Text()),
        sa.Column("message", sa.Text()),
        sa.Column("context", postgresql.JSONB()),
    )
    op.create_index("ix_system_logs_created_at", "system_logs", ["created_at"])

    op.create_table(
        "webhooks",
        sa.Column(
            "id",
            postgresql.UUID(as_uuid=True),
            primary_key=True,
            server_default=sa.text("gen_random_uuid()"),
        ),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("previous_secret", sa.Text()),
        sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True)),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.Column("disabled_at", sa.DateTime(timezone=True)),
        sa.Column("disabled_reason", sa.Text()),
        sa.Column("description", sa.Text()),
        _created_at(),
    )

    op.create_table(
        "webhook_deliveries",
        _id(),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("webhook_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("attempt", sa.SmallInteger(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("http_status", sa.SmallInteger()),
        sa.Column("error_code", sa.Text()),
        sa.Column("error_message", sa.Text()),
        sa.Column("duration_ms", sa.Integer()),
        sa.Column("response_excerpt", sa.Text()),
        sa.Column("topic", sa.Text()),
        sa.Column("partition", sa.Integer()),
        sa.Column("offset", sa.BigInteger()),
        _created_at(),
        sa.UniqueConstraint(
            "event_id", "webhook_id", "attempt", name="uq_webhook_deliveries_attempt"
        ),
    )
    op.create_index(
        "ix_webhook_deliveries_webhook_created", "webhook_deliveries", ["webhook_id", "created_at"]
    )

    op.create_table(
        "email_deliveries",
        _id(),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("chunk", sa.Integer(), nullable=False),
        sa.Column("resend_ids", postgresql.ARRAY(sa.Text())),
        sa.Column("recipients", sa.Integer()),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("error", sa.Text()),
        _created_at(),
    )
    op.create_index(
        "uq_email_deliveries_sent_chunk",
        "email_deliveries",
        ["event_id", "chunk"],
        unique=True,
        postgresql_where=sa.text("outcome = 'sent'"),
    )

    op.create_table(
        "job_runs",
        _id(),
        sa.Column("job", sa.Text(), nullable=False),
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trigger", sa.Text(), nullable=False),
        sa.Column(
            "started_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("outcome", sa.Text()),
        sa.Column("result", postgresql.JSONB()),
        sa.UniqueConstraint("job", "scheduled_for", name="uq_job_runs_job_scheduled_for"),
    )


def downgrade() -> None:
    for table in (
        "job_runs",
        "email_deliveries",
        "webhook_deliveries",
        "webhooks",
        "system_logs",
        "audit_logs",
    ):
        op.drop_table(table)

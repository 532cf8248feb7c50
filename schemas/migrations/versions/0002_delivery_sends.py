"""Delivery rows count the POSTs of their attempt: a crash can cut one short and redo it.

An attempt's row is now written as ``pending`` before its POST and settled
after; ``sends`` counts the POSTs begun for it (more than one when the attempt
was redone after a crash left it pending).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "webhook_deliveries",
        sa.Column("sends", sa.SmallInteger(), nullable=False, server_default=sa.text("1")),
    )


def downgrade() -> None:
    op.drop_column("webhook_deliveries", "sends")

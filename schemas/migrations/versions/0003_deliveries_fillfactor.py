"""Delivery rows leave half of each page free, so that settling a row stays on its page.

Every attempt's row is inserted ``pending`` and updated once with its outcome.
An update that finds room on the row's page and changes no indexed column is
heap-only (HOT): no index gets a new entry. At the default fillfactor (100) most
pages are full, and PostgreSQL spent about a third of its time per delivery on
those index entries. Existing pages keep their layout; new ones follow it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE webhook_deliveries SET (fillfactor = 50)")


def downgrade() -> None:
    op.execute("ALTER TABLE webhook_deliveries RESET (fillfactor)")

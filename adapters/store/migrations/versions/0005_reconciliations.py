"""Reconciliation runs and the differences each found.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from adapters.store.types import Position, UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reconciliations",
        sa.Column("id", Position, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("started_at", UtcDateTime, nullable=False),
        sa.Column("finished_at", UtcDateTime, nullable=False),
        sa.Column("targets", sa.Text, nullable=False),
        sa.Column("compared", sa.Integer, nullable=False),
        sa.Column("drifted", sa.Integer, nullable=False),
    )
    op.create_table(
        "reconciliation_drifts",
        sa.Column("run_id", Position, primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("field", sa.String(32), nullable=False),
        sa.Column("ours", sa.Text),
        sa.Column("theirs", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("reconciliation_drifts")
    op.drop_table("reconciliations")

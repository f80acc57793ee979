"""Dashboard sessions kept in the store, so they can be ended everywhere.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from adapters.store.types import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dashboard_sessions",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("started_at", UtcDateTime, nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        sa.Column("ended_at", UtcDateTime),
    )
    op.create_index("dashboard_sessions_subject", "dashboard_sessions", ["subject"])
    op.create_index("dashboard_sessions_expires", "dashboard_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_table("dashboard_sessions")

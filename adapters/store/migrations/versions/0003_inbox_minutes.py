"""Payloads received per minute, kept with every batch, for the dashboard's
chart; filled from the payloads kept so far.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from adapters.store.types import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_MINUTE = {
    "postgresql": "date_trunc('minute', received_at)",
    "sqlite": "strftime('%Y-%m-%d %H:%M:00.000000', received_at)",
}


def upgrade() -> None:
    op.create_table(
        "inbox_minutes",
        sa.Column("minute", UtcDateTime, primary_key=True),
        sa.Column("received", sa.Integer, nullable=False),
    )
    minute = _MINUTE[op.get_bind().dialect.name]
    op.execute(
        f"INSERT INTO inbox_minutes (minute, received) "  # noqa: S608  # constant text
        f"SELECT {minute}, count(*) FROM inbox GROUP BY 1"
    )


def downgrade() -> None:
    op.drop_table("inbox_minutes")

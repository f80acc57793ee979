"""Cursors of every puller in one table, each holding its own state as JSON.

The OFS poller's cursors (subscription, page marker, newest event time) are
carried over.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from adapters.store.types import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_STATE = {
    "postgresql": (
        "json_build_object('subscription_id', subscription_id, "
        "'next_page', next_page, 'last_event_time', last_event_time)::text"
    ),
    "sqlite": (
        "json_object('subscription_id', subscription_id, "
        "'next_page', next_page, 'last_event_time', last_event_time)"
    ),
}


def upgrade() -> None:
    op.create_table(
        "cursors",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    state = _STATE[op.get_bind().dialect.name]
    op.execute(
        f"INSERT INTO cursors (name, state, updated_at) "  # noqa: S608  # constant text
        f"SELECT name, {state}, updated_at FROM ofs_cursors"
    )
    op.drop_table("ofs_cursors")


def downgrade() -> None:
    op.create_table(
        "ofs_cursors",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("subscription_id", sa.Text),
        sa.Column("next_page", sa.String(64)),
        sa.Column("last_event_time", sa.String(19)),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    op.drop_table("cursors")

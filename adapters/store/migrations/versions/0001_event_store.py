"""The event store: inbox, events, projection registry, OFS poller cursor.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from adapters.store.types import Position, UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", Position, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("message_id", sa.Text),
        sa.Column("content_type", sa.Text),
        sa.Column("headers", sa.Text, nullable=False, server_default="{}"),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("sender", sa.Text),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text),
    )
    op.create_index(
        "inbox_message_accepted",
        "inbox",
        ["source", "message_id"],
        unique=True,
        postgresql_where=sa.text("status = 'accepted'"),
        sqlite_where=sa.text("status = 'accepted'"),
    )
    op.create_index("inbox_status", "inbox", ["status"])
    op.create_table(
        "events",
        sa.Column("position", Position, primary_key=True, autoincrement=True),
        sa.Column("stream_id", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("schema_version", sa.SmallInteger, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("metadata", sa.Text, nullable=False),
        sa.Column("occurred_at", UtcDateTime, nullable=False),
        sa.Column("recorded_at", UtcDateTime, nullable=False),
        sa.Column("dedupe_key", sa.String(128), nullable=False),
        sa.Column("inbox_id", Position),
        sa.UniqueConstraint("stream_id", "version", name="events_stream_version"),
        sa.UniqueConstraint("dedupe_key", name="events_dedupe_key"),
    )
    op.create_table(
        "streams",
        sa.Column("stream_id", sa.Text, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "projections",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("generation", sa.Integer, primary_key=True, server_default="1"),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("position", Position, nullable=False, server_default="0"),
        sa.Column("started_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    for state in ("active", "building"):
        op.create_index(
            f"projections_one_{state}",
            "projections",
            ["name"],
            unique=True,
            postgresql_where=sa.text(f"state = '{state}'"),
            sqlite_where=sa.text(f"state = '{state}'"),
        )
    op.create_table(
        "ofs_cursors",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("subscription_id", sa.Text),
        sa.Column("next_page", sa.String(64)),
        sa.Column("last_event_time", sa.String(19)),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    for table in ("ofs_cursors", "projections", "streams", "events", "inbox"):
        op.drop_table(table)

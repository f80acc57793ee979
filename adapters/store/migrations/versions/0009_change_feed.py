"""The change feed and its push subscriptions.

1. `feed` holds every entry (one per item change, later also stock signals),
   `feed_owners` the owners each entry's item had before or after it, for the
   owner filters; `subscriptions` the push subscriptions.
2. A store with a history gets the entries of that history, from position 1:
   its events are folded in store order with the domain's fold, as the live
   items fold does, each change made into its entry as a live batch makes it
   (`adapters.store.changes`), committed when its event was recorded. So a
   consumer that starts from the beginning of an upgraded store sees what it
   would have seen had the feed always been there, and a snapshot followed by
   the feed equals following it from the start.

Every item is held in memory while the history is folded once.

Revision ID: 0009
Revises: 0007
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

from adapters.store.common import feed_fill
from adapters.store.types import Position, UtcDateTime

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

log = logging.getLogger("invtrack.migrations")


def upgrade() -> None:
    _create_tables()
    filled = feed_fill.fill(op.get_bind())
    _create_indexes()  # after the fill, which is faster
    if filled:
        log.info("the change feed holds %d entries for the stored history", filled)


def downgrade() -> None:
    op.drop_table("subscriptions")
    op.drop_table("feed_owners")
    op.drop_table("feed")


def _create_tables() -> None:
    op.create_table(
        "feed",
        sa.Column("position", Position, primary_key=True, autoincrement=False),
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("time", UtcDateTime, nullable=False),
        sa.Column("recorded_at", UtcDateTime, nullable=False),
        sa.Column("event_position", Position, nullable=False),
        sa.Column("entry", sa.Text, nullable=False),
    )
    op.create_table(
        "feed_owners",
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("owner", sa.Text, primary_key=True),
        sa.Column("position", Position, primary_key=True),
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("filters", sa.Text, nullable=False, server_default="{}"),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("batch_size", sa.Integer, nullable=False),
        sa.Column("position", Position, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("last_delivered_at", UtcDateTime),
        sa.Column("failing_since", UtcDateTime),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UtcDateTime),
        sa.Column("pending_id", sa.String(64)),
        sa.Column("pending_through", Position),
        sa.Column("lease_holder", sa.String(64)),
        sa.Column("lease_until", UtcDateTime),
        sa.Column("generation", sa.Integer, nullable=False, server_default="0"),
    )


def _create_indexes() -> None:
    op.create_index("feed_subject", "feed", ["subject", "position"])
    op.create_index("feed_type", "feed", ["type", "position"])
    op.create_index("feed_recorded", "feed", ["recorded_at"])

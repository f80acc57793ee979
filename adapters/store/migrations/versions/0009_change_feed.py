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
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Final

import msgspec
import sqlalchemy as sa
from alembic import op

from adapters.store.changes import changes_of, item_entry, message_of
from adapters.store.feed import FEED_COLUMNS, FEED_OWNER_COLUMNS, FeedDraft, feed_writes
from adapters.store.types import Position, UtcDateTime
from domain.events import DomainEvent, from_data
from domain.items import Item
from domain.upcasters import current_version, upcast

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

log = logging.getLogger("invtrack.migrations")

READ: Final = 5_000
"""Events read at a time."""
WRITE: Final = 5_000
"""Entries written at a time."""

_events = sa.table(
    "events",
    sa.column("position", sa.BigInteger),
    sa.column("type", sa.String),
    sa.column("schema_version", sa.SmallInteger),
    sa.column("data", sa.Text),
    sa.column("metadata", sa.Text),
    sa.column("recorded_at", UtcDateTime),
)
_TIMES: Final = ("time", "recorded_at")
_feed = sa.table(
    "feed",
    *(sa.column(name, UtcDateTime if name in _TIMES else None) for name in FEED_COLUMNS),
)
_feed_owners = sa.table("feed_owners", *(sa.column(name) for name in FEED_OWNER_COLUMNS))
_decode_event = msgspec.json.Decoder(DomainEvent)
_decode = msgspec.json.Decoder()


def upgrade() -> None:
    _create_tables()
    filled = _fill(op.get_bind())
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


def _fill(bind: sa.Connection) -> int:
    """Entries for the stored history; the indexes after, which is faster."""
    items: dict[str, Item] = {}
    head = 0
    pending: list[tuple[list[FeedDraft], datetime]] = []
    waiting = 0
    for position, event, metadata, recorded_at in _history(bind):
        drafts = [
            item_entry(change, message_of(metadata))
            for change in changes_of(items, event, position)
        ]
        if drafts:
            pending.append((drafts, recorded_at))
            waiting += len(drafts)
        if waiting >= WRITE:
            head = _write(bind, pending, head)
            pending, waiting = [], 0
    head = _write(bind, pending, head)
    _create_indexes()
    return head


def _history(bind: sa.Connection) -> Iterator[tuple[int, DomainEvent, dict[str, Any], datetime]]:
    """Every domain event stored, in position order, in its current shape."""
    after = 0
    names = ("position", "type", "schema_version", "data", "metadata", "recorded_at")
    query = sa.select(*(_events.c[name] for name in names))
    while True:
        rows = bind.execute(
            query.where(_events.c.position > after).order_by(_events.c.position).limit(READ)
        ).all()
        if not rows:
            return
        for row in rows:
            position, kind, schema, data, metadata, recorded_at = tuple(row)
            event = _event(kind, schema, data)
            if event is not None:
                yield position, event, _decode.decode(metadata), recorded_at
        after = rows[-1][0]


def _event(kind: str, schema: int, data: str) -> DomainEvent | None:
    """The stored event as a domain event, None when it is none (a plain append)."""
    try:
        if schema == current_version(kind):
            event: DomainEvent = _decode_event.decode(data)
            return event
        lifted, _ = upcast(kind, schema, _decode.decode(data))
        return from_data(lifted)
    except (msgspec.ValidationError, msgspec.DecodeError, LookupError):
        return None


def _write(bind: sa.Connection, pending: list[tuple[list[FeedDraft], datetime]], head: int) -> int:
    entries: list[dict[str, Any]] = []
    owners: list[dict[str, Any]] = []
    for drafts, recorded_at in pending:
        rows, owner_rows = feed_writes(drafts, head, recorded_at)
        entries += [dict(zip(FEED_COLUMNS, row, strict=True)) for row in rows.rows]
        owners += [dict(zip(FEED_OWNER_COLUMNS, row, strict=True)) for row in owner_rows.rows]
        head += len(drafts)
    if entries:
        bind.execute(_feed.insert(), entries)
    if owners:
        bind.execute(_feed_owners.insert(), owners)
    return head

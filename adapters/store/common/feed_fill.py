"""Feed entries for a stored history: its events folded in store order with
the domain's fold, as the live items fold does, each change made into its
entry as a live batch makes it (`adapters.store.changes`), committed when its
event was recorded. Migration 0009 fills the feed of an upgraded store with
it; `Writer.fill_feed` the feed of a store whose history was loaded in bulk.
Every item is held in memory while the history is folded once. Through
SQLAlchemy Core, on a synchronous connection, the same on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Final

import msgspec
import sqlalchemy as sa

from adapters.store.changes import changes_of, item_entry, message_of
from adapters.store.feed import FEED_COLUMNS, FEED_OWNER_COLUMNS, FeedDraft, feed_writes
from adapters.store.types import UtcDateTime
from domain.events import DomainEvent, from_data
from domain.items import Item
from domain.upcasters import current_version, upcast

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


def fill(bind: sa.Connection) -> int:
    """Entries for the stored history, from position 1 (the feed is empty);
    how many."""
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
    return _write(bind, pending, head)


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

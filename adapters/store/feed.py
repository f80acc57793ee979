"""The change feed's values: what a live fold hands the batch decision
(`FeedDraft`), the rows the decision places them in, what a read of the feed
asks (`FeedQuery`) and what it answers (`FeedPage`).

Positions are given here, from the feed's head read under the append lock:
appends are serialised, so entries commit in position order and a reader of
`position > P` never steps over one that commits later.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final, Literal

import msgspec

from adapters.store.records import ItemRecord
from adapters.store.rows import Row, TableWrite
from adapters.store.schema import feed, feed_owners
from adapters.store.types import utc

FeedOwnerKind = Literal["resource", "activity", "customer"]

FEED_COLUMNS: Final = tuple(column.name for column in feed.columns)
FEED_OWNER_COLUMNS: Final = ("kind", "owner", "position")
SOURCE: Final = "invtrack"
"""The CloudEvents `source` of every entry."""

ITEM_CHANGED: Final = "invtrack.item.changed"
ITEM_DELETED: Final = "invtrack.item.deleted"

SCAN_WINDOW: Final = 100_000
"""Positions a filtered read looks through at most: a filter that matches
little answers in bounded time, and `Feed-Position` moves past what it
looked through."""

_encode = msgspec.json.Encoder().encode


class FeedDraft(msgspec.Struct, frozen=True, kw_only=True):
    """An entry a live fold hands the batch decision, before it has a
    position. `id` is the entry's id for good (`{event position}-{subject}`
    for item changes); `source` is what the `source` filter matches;
    `owners` the (kind, owner) pairs the owner filters match."""

    id: str
    type: str
    subject: str
    source: str
    time: datetime
    event_position: int
    data: Any
    owners: tuple[tuple[str, str], ...] = ()


class CloudEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An entry as it is served: a CloudEvents 1.0 JSON object."""

    specversion: str
    id: str
    source: str
    type: str
    subject: str
    time: datetime
    position: int
    datacontenttype: str
    data: Any


def entry_text(draft: FeedDraft, position: int) -> str:
    """The entry at `position`, as the JSON text that is stored and served."""
    event = CloudEvent(
        specversion="1.0",
        id=draft.id,
        source=SOURCE,
        type=draft.type,
        subject=draft.subject,
        time=utc(draft.time),
        position=position,
        datacontenttype="application/json",
        data=draft.data,
    )
    return _encode(event).decode()


def feed_writes(drafts: Sequence[FeedDraft], head: int, now: datetime) -> list[TableWrite]:
    """The rows of the drafts, placed after the feed's `head`, in order."""
    rows: list[Row] = []
    owners: list[Row] = []
    for n, draft in enumerate(drafts, start=1):
        position = head + n
        rows.append(
            (
                position,
                draft.id,
                draft.type,
                draft.subject,
                draft.source,
                utc(draft.time),
                now,
                draft.event_position,
                entry_text(draft, position),
            )
        )
        owners.extend((kind, owner, position) for kind, owner in dict.fromkeys(draft.owners))
    return [
        TableWrite(feed, FEED_COLUMNS, rows),
        TableWrite(feed_owners, FEED_OWNER_COLUMNS, owners),
    ]


class FeedFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Which entries pass: one of `types`, one of `sources`, a subject
    starting with one of `subjects`, and for each owner kind one of its
    owners (before or after the change); an empty part passes everything."""

    types: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    subjects: tuple[str, ...] = ()
    owners: tuple[tuple[FeedOwnerKind, tuple[str, ...]], ...] = ()

    @property
    def everything(self) -> bool:
        return not (self.types or self.sources or self.subjects or self.owners)


class FeedQuery(msgspec.Struct, frozen=True, kw_only=True):
    """Up to `limit` entries after position `after` that pass `where`,
    looking through at most `window` positions when filtered."""

    after: int = 0
    limit: int = 100
    where: FeedFilter = FeedFilter()
    window: int = SCAN_WINDOW

    def last(self, head: int) -> int:
        """The last position this read looks at, given the head."""
        if self.where.everything:
            return head
        return min(head, self.after + self.window)


class FeedEntry(msgspec.Struct, frozen=True, array_like=True):
    position: int
    type: str
    entry: str
    """The CloudEvents JSON text."""


class FeedPage(msgspec.Struct, frozen=True, kw_only=True):
    """What a read of the feed found: the entries, the head committed when
    it read them (the same snapshot), and `through`, the position a reader
    has seen everything up to (what `Feed-Position` says)."""

    entries: list[FeedEntry]
    head: int
    through: int


def page_of(query: FeedQuery, head: int, entries: list[FeedEntry]) -> FeedPage:
    """The page a read makes: through its last entry when it is full, else
    through every position it looked at."""
    if len(entries) >= query.limit:
        through = entries[-1].position
    else:
        through = max(query.last(head), query.after) if head > query.after else query.after
    return FeedPage(entries=entries, head=head, through=through)


def like_prefix(prefix: str) -> str:
    """A LIKE pattern matching texts that start with `prefix` (`\\` escapes)."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


SubscriptionState = Literal["active", "retrying", "parked"]


class SubscriptionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A push subscription as stored (the `subscriptions` table's columns)."""

    id: str
    url: str
    filters: dict[str, list[str]]
    """The feed's filters, as the query parameters name them."""
    secret: str
    batch_size: int
    position: int
    """The last position acknowledged (a 2xx for the batch that ends there)."""
    state: SubscriptionState
    created_at: datetime
    last_error: str | None = None
    last_delivered_at: datetime | None = None
    failing_since: datetime | None = None
    attempts: int = 0
    """Attempts of the pending batch that failed."""
    next_attempt_at: datetime | None = None
    pending_id: str | None = None
    """The `webhook-id` of the batch being sent (the same for every retry)."""
    pending_through: int | None = None
    """The position the batch being sent ends at."""
    lease_holder: str | None = None
    lease_until: datetime | None = None
    generation: int = 0
    """Moves on every change an admin makes (rewind, resume)."""


SUBSCRIPTION_FIELDS: Final = SubscriptionRecord.__struct_fields__


class _ItemEntry(msgspec.Struct, frozen=True):
    type: str
    data: ItemRecord


_decode_item_entry = msgspec.json.Decoder(_ItemEntry).decode


class SnapshotItem(msgspec.Struct, frozen=True):
    """One item of a snapshot page: its key, and its state at the snapshot's
    position (None when it did not exist or was deleted then)."""

    key: str
    item: ItemRecord | None


def state_at(current: ItemRecord, later: bool, entry: str | None) -> SnapshotItem:
    """An item at a snapshot's position: as it is when it has not changed
    since (`later` False), else as its last entry at or before the position
    shows it (`entry`, None when it has none)."""
    if not later:
        return SnapshotItem(current.key, None if current.deleted else current)
    if entry is None:
        return SnapshotItem(current.key, None)
    found = _decode_item_entry(entry)
    if found.type != ITEM_CHANGED or found.data.deleted:
        return SnapshotItem(current.key, None)
    return SnapshotItem(current.key, found.data)

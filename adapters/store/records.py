"""What goes into the store and what comes out of it."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

from domain.events import Fact

InboxStatus = Literal["accepted", "quarantined", "duplicate"]


class InboxEntry(msgspec.Struct, frozen=True, kw_only=True):
    """A raw payload exactly as received, before any translation."""

    source: str
    kind: str
    body: bytes
    received_at: datetime
    message_id: str | None = None
    content_type: str | None = None
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    sender: str | None = None


class NewEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event to append. `expected_version` None appends at the stream's end.

    `data` is anything that encodes to a JSON object: a plain dict, or a
    domain event (a tagged Struct, stored with its tag under `type`).
    """

    stream_id: str
    type: str
    data: Any
    occurred_at: datetime
    dedupe_key: str
    schema_version: int = 1
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    expected_version: int | None = None
    inbox_id: int | None = None


class StoredEvent(msgspec.Struct, frozen=True, kw_only=True):
    position: int
    stream_id: str
    version: int
    type: str
    schema_version: int
    data: dict[str, Any]
    metadata: dict[str, Any]
    occurred_at: datetime
    recorded_at: datetime
    dedupe_key: str
    inbox_id: int | None = None


class InboxRecord(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    source: str
    kind: str
    message_id: str | None
    body: bytes
    content_type: str | None
    headers: dict[str, str]
    sender: str | None
    received_at: datetime
    status: InboxStatus
    reason: str | None
    received_count: int = 1
    """How often it came (a quarantined payload is kept once per content)."""
    last_received_at: datetime | None = None
    """When it last came, None while it came once."""


class Cursor(msgspec.Struct, frozen=True, kw_only=True):
    """Where a puller is in its source, saved with the deliveries it read.

    `state` is the puller's own (an OFS subscription and page marker, a
    ServiceMobility `rowver`); the store keeps it as it is.
    """

    name: str
    state: dict[str, str | None] = msgspec.field(default_factory=dict)


class Delivery(msgspec.Struct, frozen=True, kw_only=True):
    """One received payload and what it translated to, committed as a unit.

    With `rejected` set the payload could not be translated: it is kept in
    quarantine with that reason and nothing is appended. A `cursor` is saved in
    the same transaction, so a puller never moves past what it has not stored;
    a delivery with no payload (an empty page) only moves the cursor.

    `replaying` names a quarantined payload read again: it is not kept a
    second time; its status becomes `accepted` (its facts appended),
    `duplicate` (its message id was accepted meanwhile) or stays
    `quarantined` with the new reason. `inbox` then carries its source and
    the message id its reading found.
    """

    inbox: InboxEntry | None
    facts: tuple[Fact, ...] = ()
    rejected: str | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    cursor: Cursor | None = None
    replaying: int | None = None

    @property
    def size(self) -> int:
        """Bytes of the payload, for bounding a batch."""
        return len(self.inbox.body) if self.inbox is not None else 0


class Receipt(msgspec.Struct, frozen=True, kw_only=True):
    """What a committed delivery did. `settled` is False for a replay of a
    payload that another replay settled first (nothing was done)."""

    inbox_id: int | None
    duplicate: bool = False
    appended: int = 0
    skipped: int = 0
    quarantined: bool = False
    settled: bool = True
    repeated: bool = False
    """A quarantined payload that was kept before: its count went up."""
    conflicts: int = 0
    """Rows whose version counts with other ledger content: not counted."""


class RowConflict(msgspec.Struct, frozen=True, kw_only=True):
    """A row version that arrived with other ledger content than the content
    it counts with. The first stays counted; `both_counted` when the store had
    counted both before conflicts were detected (found when upgrading)."""

    id: int
    rowver: str
    counted: str
    """The identity counted."""
    counted_inbox_id: int | None
    """The payload it came in."""
    identity: str
    """The identity refused."""
    inbox_id: int | None
    """The payload it came in."""
    detected_at: datetime
    both_counted: bool = False

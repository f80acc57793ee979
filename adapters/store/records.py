"""What goes into the store and what comes out of it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from domain.events import Fact

InboxStatus = Literal["accepted", "quarantined", "duplicate"]
State = Literal["active", "building", "retired"]

RawEvent = tuple[int, str, int, str | None, str | None]
"""An event as stored, for the folds: (position, type, schema version, JSON
data, routing). `routing` is the JSON array of the keys of the items it
touches, None for an event that is no domain event or was stored without it
(before revision 0012). The data is None when the read left it out
(`Writer.read_raw`'s `data_of`)."""

Upcast = Callable[[str, int, dict[str, Any]], tuple[dict[str, Any], int]]
"""Lifts stored event data of (type, schema version) to its current shape."""


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
    """An event as it reads back: its fields are the events table's columns,
    in the table's order."""

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
    routing: tuple[str, ...] | None = None
    """The keys of the items it touches (`domain.fold.touched_keys`), what a
    rebuild routes it by; None for an event that is no domain event or was
    stored without them (before revision 0012)."""


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
    position: int = 0
    """The store's last event position once the delivery was committed: a
    reader that sees it sees everything the delivery did."""


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


class KeptPayload(msgspec.Struct, frozen=True, kw_only=True):
    """A kept payload with its size and the first bytes of its body."""

    id: int
    source: str
    kind: str
    message_id: str | None
    content_type: str | None
    sender: str | None
    received_at: datetime
    status: str
    reason: str | None
    received_count: int
    """Times this content came (it is kept once)."""
    last_received_at: datetime | None
    size: int
    """Bytes in the whole body."""
    head: bytes
    """The body's first bytes (all of it when it is short enough)."""


class SessionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One dashboard session as stored."""

    key: str
    subject: str
    """Whom the session belongs to (a token's or a provider's subject; empty
    when the token named nobody): what an admin ends sessions by."""
    name: str
    """What the dashboard calls the person."""
    scopes: tuple[str, ...]
    method: str
    """`token` (a pasted token) or `sso` (the OpenID Connect provider)."""
    started_at: datetime
    expires_at: datetime
    ended_at: datetime | None = None

    def open_at(self, now: datetime) -> bool:
        return self.ended_at is None and now < self.expires_at


# ---- projections' slots ---------------------------------------------------------


class Slot(msgspec.Struct, frozen=True, order=True):
    """One set of a projection's tables: the version of its rules and which
    build of that version they hold. Written `v2` for the first build of
    version 2, `v2_3` for its third; its tables are named `{table}_{slot}`."""

    version: int
    generation: int = 1

    def __str__(self) -> str:
        if self.generation == 1:
            return f"v{self.version}"
        return f"v{self.version}_{self.generation}"

    def table(self, base: str) -> str:
        """The name of the slot's copy of a table: `items_v2`, `items_v2_3`."""
        return f"{base}_{self}"


class Registered(msgspec.Struct, frozen=True, kw_only=True):
    """A row of the projection registry: one slot of one projection and how
    far it is. `active` is served and kept live, `building` is being rebuilt,
    `retired` was replaced."""

    name: str
    slot: Slot
    state: State
    position: int
    started_at: datetime
    updated_at: datetime


# ---- what the queries answer ------------------------------------------------------


class ItemRecord(msgspec.Struct, frozen=True, rename="camel"):
    """An item as the store keeps it and the API writes it. Its fields, in this
    order, are the items table's columns (but `negative`, which the quantity
    gives): the table, the rows read back, the API's answers, the CSV
    downloads and the bench all take them from here."""

    key: Annotated[str, Meta(examples=["ofs-21258547"])]
    source: Annotated[str, Meta(examples=["ofs"])]
    pool: Annotated[str | None, Meta(examples=["install"])]
    inventory_id: Annotated[int | None, Meta(examples=[21258547])]
    inventory_type: Annotated[str | None, Meta(examples=["MODEM"])]
    product_number: str | None
    serial_number: Annotated[str | None, Meta(examples=["SN-0001"])]
    batch_number: str | None
    quantity: Annotated[str, Meta(examples=["1"], description="exact decimal")]
    resource_id: Annotated[str | None, Meta(examples=["TECH_017"])]
    activity_id: Annotated[str | None, Meta(examples=["4225599"])]
    customer_number: Annotated[str | None, Meta(examples=["C-1009"])]
    exchanged_inventory_id: int | None
    properties: dict[str, Any]
    updated_at: datetime | None
    position: Annotated[int, Meta(examples=[42])]
    deleted: bool = False
    negative: bool = False


class CountRecord(msgspec.Struct, frozen=True):
    """A ServiceMobility count (RefModule 1004 or 1005) with the balance it
    found; its fields, in this order, are the counts table's columns."""

    position: int
    occurred_at: datetime
    location: str
    product: str
    serial: str | None
    batch: str | None
    ref_module: str
    ref_object: str
    user_id: str | None
    expected: str | None
    counted: str
    variance: str | None
    key: str


class ReconciliationSummary(msgspec.Struct, frozen=True, kw_only=True):
    """A vendor's reconciliation runs: how many found drift and how many did
    not, and the newest."""

    source: str
    clean: int
    drifted_runs: int
    finished_at: datetime
    drifted: int
    """Items that differed in the newest run."""


class Received(msgspec.Struct, frozen=True, kw_only=True):
    """What the payloads of one sender stored after a point of the store."""

    events: int
    """Events of the sender's payloads after the position."""
    accepted: int
    """The sender's payloads accepted after the inbox id."""
    others: int
    """Payloads of other senders (or none) accepted after the inbox id."""


class StoreAddress(msgspec.Struct, frozen=True, kw_only=True):
    """What another process needs to open the same store."""

    url: str
    busy_seconds: float

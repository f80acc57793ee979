"""The event store: inbox of raw payloads, events, stream heads, cursors, the
projections' registry and tables, and the one transaction a batch of
deliveries commits in. The rest of invtrack sees the `Store` port, opened by
`connect(url)`, and the records and queries that go through it."""

from adapters.store.errors import (
    AlreadyRunning,
    ConcurrencyConflict,
    NotReady,
    StoreBusy,
    UnsupportedDatabase,
)
from adapters.store.opening import check_url, connect, missing, where
from adapters.store.port import LAST, Maintenance, Reader, Store, Writer
from adapters.store.records import (
    CountRecord,
    Cursor,
    Delivery,
    InboxEntry,
    InboxRecord,
    ItemRecord,
    NewEvent,
    RawEvent,
    Receipt,
    ReconciliationSummary,
    Registered,
    Slot,
    StoredEvent,
)
from adapters.store.rows import LiveProjection, Lookup, Projected, Row, TableWrite

__all__ = [
    "LAST",
    "AlreadyRunning",
    "ConcurrencyConflict",
    "CountRecord",
    "Cursor",
    "Delivery",
    "InboxEntry",
    "InboxRecord",
    "ItemRecord",
    "LiveProjection",
    "Lookup",
    "Maintenance",
    "NewEvent",
    "NotReady",
    "Projected",
    "RawEvent",
    "Reader",
    "Receipt",
    "ReconciliationSummary",
    "Registered",
    "Row",
    "Slot",
    "Store",
    "StoreBusy",
    "StoredEvent",
    "TableWrite",
    "UnsupportedDatabase",
    "Writer",
    "check_url",
    "connect",
    "missing",
    "where",
]

"""The event store: inbox of raw payloads, events, stream heads, cursors, the
projections' registry and tables, row versions and their conflicts, dashboard
sessions, and the one transaction a batch of deliveries commits in. The rest
of invtrack sees the `Store` port, opened by `connect(url)`, and the records
and queries that go through it."""

from adapters.store.errors import (
    AlreadyRunning,
    ConcurrencyConflict,
    NotReady,
    StoreBusy,
    UnsupportedDatabase,
)
from adapters.store.opening import check_url, connect, connect_reads, missing, where
from adapters.store.port import LAST, DashboardSessions, Maintenance, Reader, Store, Writer
from adapters.store.records import (
    CountRecord,
    Cursor,
    Delivery,
    InboxEntry,
    InboxRecord,
    ItemRecord,
    KeptPayload,
    NewEvent,
    RawEvent,
    Receipt,
    Received,
    ReconciliationSummary,
    Registered,
    RowConflict,
    SessionRecord,
    Slot,
    StoredEvent,
)
from adapters.store.replica import reading_after
from adapters.store.replica_status import ReplicaStatus, Replicated
from adapters.store.rows import LiveProjection, Lookup, Projected, Row, TableWrite

__all__ = [
    "LAST",
    "AlreadyRunning",
    "ConcurrencyConflict",
    "CountRecord",
    "Cursor",
    "DashboardSessions",
    "Delivery",
    "InboxEntry",
    "InboxRecord",
    "ItemRecord",
    "KeptPayload",
    "LiveProjection",
    "Lookup",
    "Maintenance",
    "NewEvent",
    "NotReady",
    "Projected",
    "RawEvent",
    "Reader",
    "Receipt",
    "Received",
    "ReconciliationSummary",
    "Registered",
    "ReplicaStatus",
    "Replicated",
    "Row",
    "RowConflict",
    "SessionRecord",
    "Slot",
    "Store",
    "StoreBusy",
    "StoredEvent",
    "TableWrite",
    "UnsupportedDatabase",
    "Writer",
    "check_url",
    "connect",
    "connect_reads",
    "missing",
    "reading_after",
    "where",
]

"""The event store: inbox of raw payloads, events, stream heads, cursors and the
projection registry, and the one transaction a batch of deliveries commits in."""

from adapters.store.conflicts import RowConflicts
from adapters.store.database import Database, UnsupportedDatabase, connect
from adapters.store.errors import ConcurrencyConflict, StoreBusy
from adapters.store.event_store import EventStore
from adapters.store.kept import KeptPayload
from adapters.store.reconciliations import ReconciliationLog
from adapters.store.records import (
    Cursor,
    Delivery,
    InboxEntry,
    InboxRecord,
    NewEvent,
    Receipt,
    RowConflict,
    StoredEvent,
)
from adapters.store.registry import Registered, Slot
from adapters.store.rows import LiveProjection, Lookup, Projected, TableWrite
from adapters.store.sessions import SessionRecord, SessionStore

__all__ = [
    "ConcurrencyConflict",
    "Cursor",
    "Database",
    "Delivery",
    "EventStore",
    "InboxEntry",
    "InboxRecord",
    "KeptPayload",
    "LiveProjection",
    "Lookup",
    "NewEvent",
    "Projected",
    "Receipt",
    "ReconciliationLog",
    "Registered",
    "RowConflict",
    "RowConflicts",
    "SessionRecord",
    "SessionStore",
    "Slot",
    "StoreBusy",
    "StoredEvent",
    "TableWrite",
    "UnsupportedDatabase",
    "connect",
]

"""The event store: inbox of raw payloads, events, and the append transaction."""

from adapters.store.database import Database, connect
from adapters.store.errors import ConcurrencyConflict
from adapters.store.reconciliations import ReconciliationLog
from adapters.store.records import Cursor, Delivery, InboxEntry, NewEvent, Receipt, StoredEvent
from adapters.store.store import EventStore, Writer

__all__ = [
    "ConcurrencyConflict",
    "Cursor",
    "Database",
    "Delivery",
    "EventStore",
    "InboxEntry",
    "NewEvent",
    "Receipt",
    "ReconciliationLog",
    "StoredEvent",
    "Writer",
    "connect",
]

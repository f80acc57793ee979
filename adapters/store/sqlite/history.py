"""A history loaded in bulk on SQLite: events as given, and the stream heads
they make, in one transaction on the writer's connection."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Final

import msgspec

from adapters.store.records import StoredEvent
from adapters.store.routing import routing_text
from adapters.store.schema import EVENT_COLUMNS
from adapters.store.sqlite.statements import to_text

_INSERT: Final = (
    f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) "  # noqa: S608  # names from the schema
    f"VALUES ({', '.join('?' for _ in EVENT_COLUMNS)})"
)
_HEADS: Final = (
    "INSERT INTO streams (stream_id, version) "
    "SELECT stream_id, max(version) FROM events GROUP BY stream_id "
    "ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version"
)
_encode = msgspec.json.Encoder().encode


def _row(event: StoredEvent) -> tuple[Any, ...]:
    return (
        event.position,
        event.stream_id,
        event.version,
        event.type,
        event.schema_version,
        _encode(event.data).decode(),
        _encode(event.metadata).decode(),
        to_text(event.occurred_at),
        to_text(event.recorded_at),
        event.dedupe_key,
        event.inbox_id,
        routing_text(event.routing),
    )


def insert(conn: sqlite3.Connection, events: Sequence[StoredEvent]) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(_INSERT, [_row(event) for event in events])
        conn.execute(_HEADS)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise

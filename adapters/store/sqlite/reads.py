"""Reads on the hot paths, each one call on a reader thread's own connection.

A query of a projection's tables reads the registry first, in the same read
transaction (so the same snapshot): when the slot it was given is no longer
the active one (a rebuild switched meanwhile) it is `Switched`, and the store
learns the new slot and asks again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Final

from adapters.store.common.store import Switched
from adapters.store.queries import Query
from adapters.store.records import RawEvent, Slot, Upcast
from adapters.store.sqlite.queries import Parameters, statement

_GUARD: Final = (
    "SELECT 1 FROM projections WHERE name = ? AND version = ? AND generation = ? "
    "AND state = 'active'"
)

_RAW: Final = (
    "SELECT position, type, schema_version, data FROM events "
    "WHERE position > ? AND position <= ? ORDER BY position LIMIT ?"
)


def answer(conn: sqlite3.Connection, query: Query[Any], slot: Slot, upcast: Upcast) -> Any:
    """The query's answer from the slot's tables; Switched when the slot is no
    longer active."""
    parameters = Parameters()
    sql, decode = statement(query, slot, parameters)
    conn.execute("BEGIN")
    try:
        guard = (query.projection, slot.version, slot.generation)
        if conn.execute(_GUARD, guard).fetchone() is None:
            raise Switched
        rows = conn.execute(sql, parameters.values).fetchall()
    finally:
        conn.execute("COMMIT")
    return decode(rows, slot, upcast)


def raw_events(
    conn: sqlite3.Connection, after: int, limit: int, through: int
) -> Sequence[RawEvent]:
    rows: Sequence[RawEvent] = conn.execute(_RAW, (after, through, limit)).fetchall()
    return rows

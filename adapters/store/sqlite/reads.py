"""Reads on the hot paths, each one call on a reader thread's own connection.

A query of a projection's tables reads the registry first, in the same read
transaction (so the same snapshot): when the slot it was given is no longer
the active one (a rebuild switched meanwhile) it is `Switched`, and the store
learns the new slot and asks again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from typing import Any, Final

from adapters.store.common.store import Switched
from adapters.store.queries import Query
from adapters.store.records import RawEvent, Slot, Upcast
from adapters.store.sqlite.queries import Parameters, statement
from adapters.store.sqlite.statements import json_list

_GUARD: Final = (
    "SELECT 1 FROM projections WHERE name = ? AND version = ? AND generation = ? "
    "AND state = 'active'"
)

_RAW: Final = (
    "SELECT position, type, schema_version, data, routing FROM events "
    "WHERE position > ? AND position <= ? ORDER BY position LIMIT ?"
)
_RAW_SOME: Final = (
    "SELECT position, type, schema_version, CASE WHEN routing IS NULL "
    "OR type IN (SELECT value FROM json_each(?)) THEN data END, routing FROM events "
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
    conn: sqlite3.Connection,
    after: int,
    limit: int,
    through: int,
    data_of: Collection[str] | None = None,
) -> Sequence[RawEvent]:
    rows: Sequence[RawEvent]
    if data_of is None:
        rows = conn.execute(_RAW, (after, through, limit)).fetchall()
    else:
        some = (json_list(data_of), after, through, limit)
        rows = conn.execute(_RAW_SOME, some).fetchall()
    return rows

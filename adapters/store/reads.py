"""Reads on the hot paths: one statement on PostgreSQL, one call on SQLite.

Statements are written once, in PostgreSQL's spelling with two conventions
that `spelled` turns into SQLite's: `$n` parameters (SQLite's `?n`) and
`IN_LIST($n)` for membership in a list parameter, which both backends take
as JSON text (`json_array_elements_text` on PostgreSQL, `json_each` on
SQLite).

Reads of a projection's tables are guarded: they also read the registry, in
the same snapshot, and answer None when the slot they were given is no longer
the active one (a rebuild switched meanwhile); the caller learns the new slot
and asks again.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import asyncpg
from sqlalchemy import Table

from adapters.store.database import Database
from adapters.store.registry import Slot
from adapters.store.rows import Lookup, Row
from adapters.store.sqlite import Convert, convert, decoders, from_text, json_list, to_text

EVENT_FIELDS: Final = (
    "e.position, e.stream_id, e.version, e.type, e.schema_version, e.data, e.metadata, "
    "e.occurred_at, e.recorded_at, e.dedupe_key, e.inbox_id"
)
EVENT_DECODERS: Final[tuple[Convert | None, ...]] = (
    (None,) * 7 + (from_text, from_text) + (None, None)
)

LAST: Final = 2**63 - 1
"""The highest position there can be."""

_PARAMETER: Final = re.compile(r"\$(\d+)")
_IN_LIST: Final = re.compile(r"IN_LIST\(\$(\d+)\)")


@functools.cache
def spelled(statement: str, postgres: bool) -> str:
    """The statement in the backend's spelling."""
    if postgres:
        return _IN_LIST.sub(r"= ANY(ARRAY(SELECT json_array_elements_text($\1::json)))", statement)
    statement = _IN_LIST.sub(r"IN (SELECT value FROM json_each(?\1))", statement)
    return _PARAMETER.sub(r"?\1", statement)


def _pg_value(value: Any) -> Any:
    """Lists go as JSON text (see `spelled`)."""
    if isinstance(value, list | tuple | set | frozenset):
        return json_list(value)
    return value


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, list | tuple | set | frozenset):
        return json_list(value)
    if isinstance(value, datetime):
        return to_text(value)
    return value


async def fetch(
    database: Database,
    statement: str,
    parameters: Sequence[Any],
    decode: Sequence[Convert | None] = (),
) -> list[Row]:
    """Rows of one statement, on a reading connection."""
    if database.is_postgres:
        async with database.reading() as conn:
            records = await conn.fetch(spelled(statement, True), *map(_pg_value, parameters))
        return [tuple(record) for record in records]
    sql = spelled(statement, False)
    bound = [_sqlite_value(value) for value in parameters]

    def read(conn: Any) -> list[Row]:
        return convert(conn.execute(sql, bound).fetchall(), decode)

    return await database.sqlite.on_reader(read)


_GUARD: Final = (
    "SELECT g.state, q.* FROM projections AS g LEFT JOIN LATERAL ({0}) AS q ON true "
    "WHERE g.name = $1 AND g.version = $2 AND g.generation = $3 AND g.state = 'active'"
)
_GUARD_SQLITE: Final = (
    "SELECT 1 FROM projections WHERE name = ? AND version = ? AND generation = ? "
    "AND state = 'active'"
)


GUARDED: Final = 3
"""Parameters a guarded statement's guard takes: its own are numbered after them."""


async def fetch_guarded(
    database: Database,
    guard: tuple[str, Slot],
    statement: str,
    parameters: Sequence[Any],
    decode: Sequence[Convert | None] = (),
) -> list[Row] | None:
    """Rows of a statement on a projection's tables while the guard's slot is
    active, else None. The statement's own parameters are numbered from $4."""
    name, slot = guard
    head = [name, slot.version, slot.generation]
    if database.is_postgres:
        sql = spelled(_GUARD.format(statement), True)
        try:
            async with database.reading() as conn:
                records = await conn.fetch(sql, *head, *map(_pg_value, parameters))
        except asyncpg.UndefinedTableError:
            return None  # the slot's tables are gone: a rebuild switched and dropped them
        if not records:
            return None
        rows = [tuple(record)[1:] for record in records]
        return [] if len(rows) == 1 and rows[0][0] is None else rows
    sql = spelled(statement, False)
    bound = [None, None, None] + [_sqlite_value(value) for value in parameters]

    def read(conn: Any) -> list[Row] | None:
        conn.execute("BEGIN")
        try:
            if conn.execute(_GUARD_SQLITE, head).fetchone() is None:
                return None
            return convert(conn.execute(sql, bound).fetchall(), decode)
        finally:
            conn.execute("COMMIT")

    return await database.sqlite.on_reader(read)


async def raw_events(
    database: Database, after: int, limit: int, through: int = LAST
) -> Sequence[tuple[int, str, int, str]]:
    """Up to `limit` events after a position and up to `through` as stored:
    (position, type, schema version, JSON data)."""
    statement = (
        "SELECT position, type, schema_version, data FROM events "
        "WHERE position > $1 AND position <= $2 ORDER BY position LIMIT $3"
    )
    if database.is_postgres:
        async with database.reading() as conn:
            # The records as they come: they unpack like tuples, and a rebuild
            # reads millions of them.
            records: Sequence[tuple[int, str, int, str]] = await conn.fetch(
                statement, after, through, limit
            )
            return records
    return await fetch(database, statement, [after, through, limit])


async def events_of_key(
    database: Database,
    guard: tuple[str, Slot],
    links: Table,
    key: str,
    after: int,
    limit: int | None,
) -> list[Row] | None:
    """The events a link table ties to `key`, after a position, oldest first."""
    return await fetch_guarded(
        database,
        guard,
        f"SELECT {EVENT_FIELDS} FROM {links.name} AS l "  # noqa: S608  # schema names
        "JOIN events AS e ON e.position = l.position "
        "WHERE l.key = $4 AND l.position > $5 ORDER BY l.position LIMIT $6",
        [key, after, limit if limit is not None else 2**62],
        EVENT_DECODERS,
    )


async def events_of_keys(
    database: Database,
    guard: tuple[str, Slot],
    links: Table,
    keys: Sequence[str],
    until: datetime,
) -> list[Row] | None:
    """(key, event fields...) for the events a link table ties to `keys` whose
    event time is at or before `until`, in position order."""
    return await fetch_guarded(
        database,
        guard,
        f"SELECT l.key, {EVENT_FIELDS} FROM {links.name} AS l "  # noqa: S608
        "JOIN events AS e ON e.position = l.position "
        "WHERE l.key IN_LIST($4) AND e.occurred_at <= $5 ORDER BY e.position",
        [list(keys), until],
        (None, *EVENT_DECODERS),
    )


async def look_up(database: Database, lookup: Lookup) -> list[Row]:
    """The rows of a lookup, on a reading connection."""
    if not lookup.keys:
        return []
    return await fetch(
        database,
        f"SELECT {', '.join(lookup.columns)} FROM {lookup.table.name} "  # noqa: S608
        f"WHERE {lookup.key} IN_LIST($1)",
        [list(lookup.keys)],
        decoders(lookup.table, lookup.columns),
    )

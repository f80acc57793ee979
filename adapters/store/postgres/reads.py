"""Reads on the hot paths, one statement each on a pooled asyncpg connection.

A query of a projection's tables is guarded: it also reads the registry, in
the same snapshot, and finds no row there when the slot it was given is no
longer the active one (a rebuild switched meanwhile): `Switched`, and the
store learns the new slot and asks again.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Final

import asyncpg
import msgspec

from adapters.store.common.store import Switched
from adapters.store.postgres.queries import Parameters, statement
from adapters.store.queries import Query
from adapters.store.records import RawEvent, Slot, Upcast
from adapters.store.rows import Lookup, Row

_GUARD: Final = (
    "SELECT g.state, q.* FROM projections AS g LEFT JOIN LATERAL ({0}) AS q ON true "
    "WHERE g.name = $1 AND g.version = $2 AND g.generation = $3 AND g.state = 'active'"
)

_RAW: Final = (
    "SELECT position, type, schema_version, data, routing FROM events "
    "WHERE position > $1 AND position <= $2 ORDER BY position LIMIT $3"
)
_RAW_SOME: Final = (
    "SELECT position, type, schema_version, "
    "CASE WHEN routing IS NULL OR type = ANY($4::text[]) THEN data END, routing FROM events "
    "WHERE position > $1 AND position <= $2 ORDER BY position LIMIT $3"
)

_json = msgspec.json.Encoder().encode


async def answer(conn: asyncpg.Connection, query: Query[Any], slot: Slot, upcast: Upcast) -> Any:
    """The query's answer from the slot's tables; Switched when the slot is no
    longer active."""
    parameters = Parameters(query.projection, slot.version, slot.generation)
    sql, decode = statement(query, slot, parameters)
    try:
        records = await conn.fetch(_GUARD.format(sql), *parameters.values)
    except asyncpg.UndefinedTableError:
        raise Switched from None  # a rebuild switched and dropped the slot's tables
    if not records:
        raise Switched
    rows = [tuple(record)[1:] for record in records]
    if len(rows) == 1 and rows[0][0] is None:
        rows = []  # the guard's row, without a row of the query's
    return decode(rows, upcast)


async def raw_events(
    conn: asyncpg.Connection,
    after: int,
    limit: int,
    through: int,
    data_of: Collection[str] | None = None,
) -> Sequence[RawEvent]:
    # The records as they come: they unpack like tuples, and a rebuild reads
    # millions of them. The data left out is not even sent.
    records: Sequence[RawEvent]
    if data_of is None:
        records = await conn.fetch(_RAW, after, through, limit)
    else:
        records = await conn.fetch(_RAW_SOME, after, through, limit, list(data_of))
    return records


def look_up_statement(lookup: Lookup) -> str:
    return (
        f"SELECT {', '.join(lookup.columns)} FROM {lookup.table.name} "  # noqa: S608
        f"WHERE {lookup.key} = ANY(ARRAY(SELECT json_array_elements_text($1::json)))"
    )


async def look_up(conn: asyncpg.Connection, lookup: Lookup) -> list[Row]:
    """The rows a lookup names."""
    if not lookup.keys:
        return []
    keys = _json(list(lookup.keys)).decode()
    return [tuple(record) for record in await conn.fetch(look_up_statement(lookup), keys)]

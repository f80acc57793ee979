"""The statements of a batch commit on PostgreSQL: one reading everything the
decisions need, one writing every row of the batch. Statement text depends on
the tables only, never on the number of rows, so each is prepared once per
connection."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Final

import msgspec
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql

from adapters.store.found import Batch, Found
from adapters.store.records import Slot
from adapters.store.rows import Lookup, TableWrite

_DIALECT: Final = postgresql.dialect()  # type: ignore[no-untyped-call]


def sql_type(table: Table, column: str) -> str:
    """The column's type as PostgreSQL spells it, for array casts."""
    return str(table.c[column].type.compile(dialect=_DIALECT))


def _whole_rows(write: TableWrite) -> bool:
    """Whether the write gives every column of its table, in the table's order:
    its rows then go as one array of the table's row type, which asyncpg
    encodes several times faster than an array per column."""
    return write.mode != "update" and write.columns == tuple(c.name for c in write.table.columns)


@functools.cache
def _write_part(
    table: Table, columns: tuple[str, ...], mode: str, keys: tuple[str, ...], first: int
) -> str:
    """One table's write, its arrays numbered from `first`."""
    names = ", ".join(columns)
    if mode != "update" and columns == tuple(c.name for c in table.columns):
        arrays = f"${first}::{table.name}[]"
    else:
        arrays = ", ".join(
            f"${first + n}::{sql_type(table, column)}[]" for n, column in enumerate(columns)
        )
    if mode == "update":
        sets = ", ".join(f"{c} = v.{c}" for c in columns if c not in keys)
        match = " AND ".join(f"t.{k} = v.{k}" for k in keys)
        return (
            f"UPDATE {table.name} AS t SET {sets} "  # noqa: S608  # names from the schema
            f"FROM unnest({arrays}) AS v({names}) WHERE {match}"
        )
    statement = f"INSERT INTO {table.name} ({names}) SELECT * FROM unnest({arrays})"  # noqa: S608
    return statement + on_conflict(table, columns, keys, mode)


def on_conflict(table: Table, columns: Sequence[str], keys: Sequence[str], mode: str) -> str:
    """The conflict clause that ends an insert of this mode."""
    target = f" ON CONFLICT ({', '.join(keys)}) DO"
    others = [column for column in columns if column not in keys]
    if mode == "ignore":
        return f"{target} NOTHING"
    if mode == "upsert":
        return f"{target} UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in others)
    if mode == "add":
        added = (f"{c} = {table.name}.{c} + excluded.{c}" for c in others)
        return f"{target} UPDATE SET " + ", ".join(added)
    return ""


def write_statement(writes: Sequence[TableWrite]) -> tuple[str, list[Any]]:
    """One statement writing every table's rows, and its parameters. A write
    without rows is left out: every part is planned on each execution."""
    parts: list[str] = []
    parameters: list[Any] = []
    for n, write in enumerate(write for write in writes if write.rows):
        part = _write_part(
            write.table, write.columns, write.mode, write.key_columns(), len(parameters) + 1
        )
        parts.append(f"w{n} AS ({part})")
        parameters.extend(_columns_of(write))
    if not parts:
        return "SELECT 1", parameters
    return f"WITH {', '.join(parts)} SELECT 1", parameters


def _columns_of(write: TableWrite) -> list[Any]:
    if _whole_rows(write):
        return [write.rows]
    return [list(column) for column in zip(*write.rows, strict=True)]


def json_list(n: int) -> str:
    """Membership in list parameter `n`, sent as JSON text: asyncpg checks and
    encodes every element of an array parameter in Python, one JSON text is
    encoded at C speed and unpacked by the server."""
    return f"= ANY(ARRAY(SELECT json_array_elements_text(${n}::json)))"


_READ_FIXED: Final = (
    "SELECT "  # noqa: S608  # fixed text
    "(SELECT coalesce(max(position), 0) FROM events), "
    "(SELECT coalesce(max(position), 0) FROM feed), "
    "(SELECT coalesce(max(id), 0) FROM inbox), "
    # One lookup per message id in the index of accepted payloads.
    "(SELECT array_agg(ROW(m ->> 0, m ->> 1, (SELECT i.id FROM inbox AS i "
    " WHERE i.source = m ->> 0 AND i.message_id = m ->> 1 AND i.status = 'accepted'))) "
    " FROM json_array_elements($1::json) AS m), "
    f"(SELECT array_agg(dedupe_key) FROM events WHERE dedupe_key {json_list(2)}), "
    f"(SELECT array_agg(ROW(stream_id, version)) FROM streams WHERE stream_id {json_list(3)}), "
    "(SELECT array_agg(ROW(id, status)) FROM inbox WHERE id = ANY($4::bigint[])), "
    "(SELECT array_agg(ROW(name, version, generation)) FROM projections WHERE state = 'active')"
)
_FIXED_PARAMETERS: Final = 4


@functools.cache
def _read_statement(lookups: tuple[tuple[Table, str, tuple[str, ...]], ...]) -> str:
    parts = [_READ_FIXED]
    for n, (table, key, columns) in enumerate(lookups):
        number = _FIXED_PARAMETERS + n + 1
        parts.append(
            f", (SELECT array_agg(ROW({', '.join(columns)})) FROM {table.name} "  # noqa: S608
            f"WHERE {key} {json_list(number)})"
        )
    return "".join(parts)


def read_statement(batch: Batch, lookups: Sequence[Lookup]) -> tuple[str, list[Any]]:
    """The statement reading what a batch needs; lookups without keys are
    left out (they find nothing, and every part is planned on each
    execution): `found_from` gives them no rows."""
    asked = [lookup for lookup in lookups if lookup.keys]
    parameters: list[Any] = [
        _json(batch.messages()),
        _json(batch.dedupe_keys()),
        _json(batch.stream_ids()),
        batch.replayed(),
    ]
    parameters += [_json(list(lookup.keys)) for lookup in asked]
    shape = tuple((lookup.table, lookup.key, lookup.columns) for lookup in asked)
    return _read_statement(shape), parameters


@functools.cache
def _follow_up_statement(lookups: tuple[tuple[Table, str, tuple[str, ...]], ...]) -> str:
    parts = [
        f"(SELECT array_agg(ROW({', '.join(columns)})) FROM {table.name} "  # noqa: S608
        f"WHERE {key} {json_list(number)})"
        for number, (table, key, columns) in enumerate(lookups, start=1)
    ]
    return f"SELECT {', '.join(parts)}"


def follow_up_statement(lookups: Sequence[Lookup]) -> tuple[str, list[Any]]:
    """The rows of lookups made once the first read is known, in one
    statement; those without keys are left out (`spread` gives them none)."""
    asked = [lookup for lookup in lookups if lookup.keys]
    shape = tuple((lookup.table, lookup.key, lookup.columns) for lookup in asked)
    return _follow_up_statement(shape), [_json(list(lookup.keys)) for lookup in asked]


def spread(lookups: Sequence[Lookup], answers: Sequence[Any]) -> list[list[Any]]:
    """The rows each lookup found, from the answers of those that had keys."""
    given = iter(answers)
    return [list((next(given) if lookup.keys else None) or ()) for lookup in lookups]


_json_text = msgspec.json.Encoder().encode


def _json(values: Sequence[Any]) -> str:
    return _json_text(values).decode()


def found_from(record: Sequence[Any], lookups: Sequence[Lookup]) -> Found:
    """The state a row of `read_statement(batch, lookups)` tells."""
    head, feed_head, inbox_head, accepted, known, stream_rows, statuses, slots, *asked = record
    return Found(
        head=int(head),
        feed_head=int(feed_head),
        inbox_head=int(inbox_head),
        accepted={
            (source, message): int(id_)
            for source, message, id_ in accepted or ()
            if id_ is not None
        },
        known=set(known or ()),
        streams={stream: int(version) for stream, version in stream_rows or ()},
        statuses={int(id_): status for id_, status in statuses or ()},
        slots={name: Slot(int(v), int(g)) for name, v, g in slots or ()},
        lookups=list(lookups),
        rows=spread(lookups, asked),
    )


HEADS: Final = (
    "SELECT "
    "(SELECT coalesce(max(position), 0) FROM events), "
    "(SELECT coalesce(max(position), 0) FROM feed), "
    "(SELECT coalesce(max(id), 0) FROM inbox), "
    "(SELECT array_agg(ROW(name, version, generation)) FROM projections WHERE state = 'active')"
)
"""What tells whether anything a decision rests on was written since a state
was read: a batch that appends, accepts or quarantines anything moves one of
the three heads, and a rebuild's switch changes the active slots."""


def unchanged(record: Sequence[Any], found: Found) -> bool:
    """Whether the heads and slots (a row of HEADS) are those of `found`."""
    head, feed_head, inbox_head, slots = record
    return (int(head), int(feed_head), int(inbox_head)) == (
        found.head,
        found.feed_head,
        found.inbox_head,
    ) and {name: Slot(int(v), int(g)) for name, v, g in slots or ()} == found.slots

"""SQLite's statements for what a batch reads and writes, and how values go
in and come out: timestamps are kept as naive UTC text, booleans as integers,
lists go as one JSON text parameter (`IN (SELECT value FROM json_each(?))`)."""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Boolean, DateTime, Table

from adapters.store.errors import StoreBusy
from adapters.store.found import Batch, Found
from adapters.store.records import Slot
from adapters.store.rows import Lookup, Row, TableWrite

Convert = Callable[[Any], Any]

BUSY: Final = ("database is locked", "database table is locked")


def to_text(moment: datetime | None) -> str | None:
    """A timestamp as the store keeps it on SQLite: naive UTC text, microseconds
    always written, so texts compare as the moments do."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(sep=" ", timespec="microseconds")


def from_text(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


def _is_time(table: Table, column: str) -> bool:
    kind = table.c[column].type
    return isinstance(kind, DateTime) or isinstance(getattr(kind, "impl", None), DateTime)


@functools.cache
def encoders(table: Table, columns: tuple[str, ...]) -> tuple[Convert | None, ...]:
    """How each column's Python value is bound (None: as it is)."""
    return tuple(to_text if _is_time(table, column) else None for column in columns)


@functools.cache
def decoders(table: Table, columns: tuple[str, ...]) -> tuple[Convert | None, ...]:
    """How each column's stored value is read back (None: as it is)."""
    return tuple(
        from_text
        if _is_time(table, column)
        else bool
        if isinstance(table.c[column].type, Boolean)
        else None
        for column in columns
    )


def convert(rows: Sequence[Row], converters: Sequence[Convert | None]) -> list[Row]:
    if not any(converters):
        return list(rows)
    return [
        tuple(
            value if f is None or value is None else f(value)
            for value, f in zip(row, converters, strict=True)
        )
        for row in rows
    ]


def json_list(values: Iterable[Any]) -> str:
    """Values as one parameter, for `IN (SELECT value FROM json_each(?))`."""
    return json.dumps(list(values))


# ---- writing ---------------------------------------------------------------------


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


def write_sql(write: TableWrite) -> str:
    """The statement that writes one row of a TableWrite (run with executemany)."""
    return _statement(write.table, write.columns, write.mode, write.key_columns())


@functools.cache
def _statement(table: Table, columns: tuple[str, ...], mode: str, keys: tuple[str, ...]) -> str:
    names = ", ".join(columns)
    marks = ", ".join("?" for _ in columns)
    if mode == "update":
        sets = ", ".join(f"{c} = ?" for c in columns if c not in keys)
        match = " AND ".join(f"{k} = ?" for k in keys)
        return f"UPDATE {table.name} SET {sets} WHERE {match}"  # noqa: S608  # schema names
    statement = f"INSERT INTO {table.name} ({names}) VALUES ({marks})"  # noqa: S608
    return statement + on_conflict(table, columns, keys, mode)


def bound(write: TableWrite) -> list[Row]:
    """A TableWrite's rows as `write_sql` binds them."""
    rows = convert(write.rows, encoders(write.table, write.columns))
    if write.mode != "update":
        return rows
    keys = write.key_columns()
    order = [i for i, c in enumerate(write.columns) if c not in keys]
    order += [write.columns.index(k) for k in keys]
    return [tuple(row[i] for i in order) for row in rows]


def write(conn: sqlite3.Connection, writes: Sequence[TableWrite]) -> None:
    for table_write in writes:
        if table_write.rows:
            conn.executemany(write_sql(table_write), bound(table_write))


def begin_immediately(conn: sqlite3.Connection) -> None:
    """Take the write lock, or raise StoreBusy once the busy timeout is over."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        if str(error) in BUSY:
            raise StoreBusy("another writer holds the database") from None
        raise


# ---- what a batch reads ----------------------------------------------------------


def read(conn: sqlite3.Connection, batch: Batch, lookups: Sequence[Lookup]) -> Found:
    """What a batch's decisions need, read under the lock."""
    one = conn.execute
    return Found(
        head=one("SELECT coalesce(max(position), 0) FROM events").fetchone()[0],
        feed_head=one("SELECT coalesce(max(position), 0) FROM feed").fetchone()[0],
        inbox_head=one("SELECT coalesce(max(id), 0) FROM inbox").fetchone()[0],
        accepted={
            (source, message): id_
            for source, message, id_ in one(
                # The planner would rather scan every accepted payload.
                "SELECT i.source, i.message_id, i.id FROM json_each(?) AS m "
                "CROSS JOIN inbox AS i INDEXED BY inbox_message_accepted "
                "WHERE i.source = m.value ->> 0 AND i.message_id = m.value ->> 1 "
                "AND i.status = 'accepted'",
                (json_list(batch.messages()),),
            )
        },
        known={
            key
            for (key,) in one(
                "SELECT dedupe_key FROM events "
                "WHERE dedupe_key IN (SELECT value FROM json_each(?))",
                (json_list(batch.dedupe_keys()),),
            )
        },
        streams=dict(
            one(
                "SELECT stream_id, version FROM streams "
                "WHERE stream_id IN (SELECT value FROM json_each(?))",
                (json_list(batch.stream_ids()),),
            ).fetchall()
        ),
        statuses=dict(
            one(
                "SELECT id, status FROM inbox WHERE id IN (SELECT value FROM json_each(?))",
                (json_list(batch.replayed()),),
            ).fetchall()
        ),
        slots=active_slots(conn),
        lookups=list(lookups),
        rows=[look_up(conn, lookup) for lookup in lookups],
    )


def active_slots(conn: sqlite3.Connection) -> dict[str, Slot]:
    rows = conn.execute(
        "SELECT name, version, generation FROM projections WHERE state = 'active'"
    ).fetchall()
    return {name: Slot(version, generation) for name, version, generation in rows}


def look_up_sql(lookup: Lookup) -> str:
    return (
        f"SELECT {', '.join(lookup.columns)} FROM {lookup.table.name} "  # noqa: S608
        f"WHERE {lookup.key} IN (SELECT value FROM json_each(?))"
    )


def look_up(conn: sqlite3.Connection, lookup: Lookup) -> list[Row]:
    rows = conn.execute(look_up_sql(lookup), (json_list(list(lookup.keys)),)).fetchall()
    return convert(rows, decoders(lookup.table, lookup.columns))

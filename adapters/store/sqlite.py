"""The store's hot paths on SQLite, on the standard `sqlite3` module.

A batch commit is one call on the writer's own thread: `BEGIN IMMEDIATE`
(the append lock: SQLite has one writer), the reads the decisions need, the
decisions, every table's rows with `executemany`, `COMMIT`. Positions and ids
are given in Python while the lock is held. Readers have threads and
connections of their own; in WAL mode they never wait for the writer.

A writer that cannot get the lock within the busy timeout raises StoreBusy
at once: the caller answers 503, it does not wait again.

The WAL is copied into the database file (checkpointed) on a reader thread a
few times a second, not by the commit that happens to fill it: the writer,
which every delivery waits for, only writes. Should those checkpoints fall
behind, the writer still checkpoints once the WAL holds WAL_PAGES pages.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from sqlalchemy import Boolean, DateTime, Table

from adapters.store.batch import Batch, Decision, Found
from adapters.store.errors import StoreBusy
from adapters.store.registry import Slot
from adapters.store.rows import LiveProjection, Lookup, Row, TableWrite, on_conflict

T = TypeVar("T")

log = logging.getLogger(__name__)

CHECKPOINT_SECONDS: Final = 0.5
"""Time between two checkpoints off the writer's path, while commits go on."""

WAL_PAGES: Final = 10_000
"""Pages in the WAL beyond which the writer checkpoints itself."""

Convert = Callable[[Any], Any]


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


def json_list(values: Iterable[Any]) -> str:
    """Values as one parameter, for `IN (SELECT value FROM json_each(?))`."""
    return json.dumps(list(values))


def read(conn: sqlite3.Connection, batch: Batch, lookups: Sequence[Lookup]) -> Found:
    """What a batch's decisions need, read under the lock."""
    one = conn.execute
    return Found(
        head=one("SELECT coalesce(max(position), 0) FROM events").fetchone()[0],
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
        rows=[look_up(conn, lookup) for lookup in lookups],
    )


def active_slots(conn: sqlite3.Connection) -> dict[str, Slot]:
    rows = conn.execute(
        "SELECT name, version, generation FROM projections WHERE state = 'active'"
    ).fetchall()
    return {name: Slot(version, generation) for name, version, generation in rows}


def look_up(conn: sqlite3.Connection, lookup: Lookup) -> list[Row]:
    rows = conn.execute(
        f"SELECT {', '.join(lookup.columns)} FROM {lookup.table.name} "  # noqa: S608
        f"WHERE {lookup.key} IN (SELECT value FROM json_each(?))",
        (json_list(list(lookup.keys)),),
    ).fetchall()
    return convert(rows, decoders(lookup.table, lookup.columns))


class SqliteFile:
    """One SQLite file: a writer thread with its connection, and reader threads
    with one connection each."""

    def __init__(self, path: str, *, busy_timeout: float, readers: int = 4) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="invtrack-sqlite-writer")
        self._readers = ThreadPoolExecutor(readers, thread_name_prefix="invtrack-sqlite-reader")
        self._connections: list[sqlite3.Connection] = []
        self._guard = threading.Lock()
        self._checkpointed = 0.0

    def connection(self) -> sqlite3.Connection:
        """This thread's connection."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=0
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_PAGES}")
            self._local.conn = conn
            with self._guard:
                self._connections.append(conn)
        return conn

    async def on_writer(self, work: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, lambda: work(self.connection()))

    async def on_reader(self, work: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, lambda: work(self.connection()))

    async def commit(self, batch: Batch, projection: LiveProjection | None) -> Decision:
        decision = await self.on_writer(lambda conn: self._commit(conn, batch, projection))
        self._checkpoint_soon()
        return decision

    def _checkpoint_soon(self) -> None:
        now = time.monotonic()
        if now - self._checkpointed >= CHECKPOINT_SECONDS:
            self._checkpointed = now
            self._readers.submit(self._checkpoint)

    def _checkpoint(self) -> None:
        """As much of the WAL as no reader still needs, into the database file."""
        try:
            self.connection().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as error:  # the next one will do it
            log.warning("checkpointing the WAL failed: %s", error)

    def _commit(
        self, conn: sqlite3.Connection, batch: Batch, projection: LiveProjection | None
    ) -> Decision:
        begin_immediately(conn)
        try:
            slots = active_slots(conn)
            found = read(conn, batch, batch.lookups(projection, slots))
            decision = batch.decide(found, projection, datetime.now(UTC))
            write(conn, decision.writes)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return decision

    def close(self) -> None:
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        with self._guard:
            for conn in self._connections:
                conn.close()
            self._connections.clear()


BUSY: Final = ("database is locked", "database table is locked")


def begin_immediately(conn: sqlite3.Connection) -> None:
    """Take the write lock, or raise StoreBusy once the busy timeout is over."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        if str(error) in BUSY:
            raise StoreBusy("another writer holds the database") from None
        raise

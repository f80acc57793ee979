"""Committing batches on PostgreSQL, on asyncpg.

A batch commit is four round trips whatever its size:

1. `BEGIN`, a bounded `lock_timeout` and the append lock, in one simple query;
2. one statement reading everything the decisions need (the head, the
   message ids and dedupe keys already stored, stream versions, the status of
   replayed payloads, the active projection slots and the rows the live
   projections look up), each as an array;
3. one statement writing every row of the batch: one `INSERT ... SELECT FROM
   unnest(...)` (or upsert, or `UPDATE ... FROM unnest(...)`) per table, as
   data-modifying CTEs;
4. `COMMIT`.

Statement text depends on the tables only, never on the number of rows, so
each is prepared once per connection. Connections plan every execution with
its parameters (`plan_cache_mode = force_custom_plan`): a plan chosen while
the store was young must not stay once it has grown.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import asyncpg
import msgspec
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql

from adapters.store.decide import decide
from adapters.store.errors import StoreBusy
from adapters.store.found import Batch, Decision, Found
from adapters.store.postgres.feed import FEED_NOTIFY
from adapters.store.postgres.locks import APPEND_LOCK
from adapters.store.records import Slot
from adapters.store.rows import LiveProjection, Lookup, TableWrite

SESSION: Final = {
    "plan_cache_mode": "force_custom_plan",
    "jit": "off",
    "application_name": "invtrack",
}
"""Settings of every hot-path connection."""

_DIALECT: Final = postgresql.dialect()  # type: ignore[no-untyped-call]

_BROKEN: Final = (
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    ConnectionError,
    OSError,
)
"""Failures after which a connection is not used again."""


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
    """One statement writing every table's rows, and its parameters."""
    parts: list[str] = []
    parameters: list[Any] = []
    for n, write in enumerate(writes):
        part = _write_part(
            write.table, write.columns, write.mode, write.key_columns(), len(parameters) + 1
        )
        parts.append(f"w{n} AS ({part})")
        parameters.extend(_columns_of(write))
    return f"WITH {', '.join(parts)} SELECT 1", parameters


def _columns_of(write: TableWrite) -> list[Any]:
    if _whole_rows(write):
        return [write.rows]
    if not write.rows:
        return [[] for _ in write.columns]
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
    parameters: list[Any] = [
        _json(batch.messages()),
        _json(batch.dedupe_keys()),
        _json(batch.stream_ids()),
        batch.replayed(),
    ]
    parameters += [_json(list(lookup.keys)) for lookup in lookups]
    shape = tuple((lookup.table, lookup.key, lookup.columns) for lookup in lookups)
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
    """The rows of lookups made once the first read is known, in one statement."""
    shape = tuple((lookup.table, lookup.key, lookup.columns) for lookup in lookups)
    return _follow_up_statement(shape), [_json(list(lookup.keys)) for lookup in lookups]


_json_text = msgspec.json.Encoder().encode


def _json(values: Sequence[Any]) -> str:
    return _json_text(values).decode()


def found_from(record: Sequence[Any], lookups: Sequence[Lookup]) -> Found:
    head, feed_head, inbox_head, accepted, known, stream_rows, statuses, slots, *rows = record
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
        rows=[list(found or ()) for found in rows],
    )


class PostgresWriter:
    """Commits batches on one long-lived connection of its own; a broken one is
    replaced on the next batch. Commits of one process are taken in turn."""

    def __init__(self, dsn: str, *, lock_timeout: float) -> None:
        self.dsn = dsn
        self.lock_timeout = lock_timeout
        self._conn: asyncpg.Connection | None = None
        self._turn = asyncio.Lock()
        self._slots: dict[str, Slot] = {}
        self._begin = (
            f"BEGIN; SET LOCAL lock_timeout = '{int(lock_timeout * 1000)}ms'; "
            f"SELECT pg_advisory_xact_lock({APPEND_LOCK})"
        )

    async def commit(self, batch: Batch, projection: LiveProjection | None) -> Decision:
        async with self._turn:
            try:
                return await self._commit(batch, projection)
            except asyncpg.UndefinedTableError:
                # The cached slots' tables were dropped by a rebuild's switch
                # (nothing was written): learn the new slots and go again.
                self._slots = {}
                return await self._commit(batch, projection)

    async def _commit(self, batch: Batch, projection: LiveProjection | None) -> Decision:
        async with self._transaction() as conn:
            found = await self._read(conn, batch, projection)
            decision = decide(batch, found, projection, datetime.now(UTC))
            await self._write(conn, decision, found)
            return decision

    async def _write(self, conn: asyncpg.Connection, decision: Decision, found: Found) -> None:
        statement, parameters = write_statement(decision.writes)
        if decision.feed_head > found.feed_head:
            # Readers in other processes are woken at commit (FEED_CHANNEL).
            statement = statement.removesuffix("SELECT 1") + FEED_NOTIFY.format(len(parameters) + 1)
            parameters.append(str(decision.feed_head))
        await conn.execute(statement, *parameters)

    async def _read(
        self, conn: asyncpg.Connection, batch: Batch, projection: LiveProjection | None
    ) -> Found:
        """What the batch needs, with the projections' rows of the active
        slots (read again in the rare case the slots just changed)."""
        lookups = batch.lookups(projection, self._slots)
        statement, parameters = read_statement(batch, lookups)
        found = found_from(await conn.fetchrow(statement, *parameters), lookups)
        if found.slots != self._slots:
            self._slots = found.slots
            lookups = batch.lookups(projection, found.slots)
            statement, parameters = read_statement(batch, lookups)
            found = found_from(await conn.fetchrow(statement, *parameters), lookups)
        more = batch.follow_ups(projection, found)
        if any(lookup.keys for lookup in more):
            statement, parameters = follow_up_statement(more)
            record = await conn.fetchrow(statement, *parameters)
            found.add(more, [list(rows or ()) for rows in record])
        elif more:
            # Nothing to read: no round trip.
            found.add(more, [[] for _ in more])
        return found

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[asyncpg.Connection]:
        conn = await self._begun()
        try:
            yield conn
        except BaseException:
            await self._rollback(conn)
            raise
        try:
            await conn.execute("COMMIT")
        except BaseException:
            await self._discard()
            raise

    async def _begun(self) -> asyncpg.Connection:
        """A connection in a transaction holding the append lock. A connection
        found broken before anything was sent is replaced once."""
        conn = await self._connection()
        try:
            await self._lock(conn)
        except _BROKEN:
            await self._discard()
            conn = await self._connection()
            await self._lock(conn)
        return conn

    async def _lock(self, conn: asyncpg.Connection) -> None:
        try:
            await conn.execute(self._begin)
        except asyncpg.LockNotAvailableError:
            await self._rollback(conn)
            raise StoreBusy(
                f"the append lock was not free within {self.lock_timeout:g} s"
            ) from None
        except _BROKEN:
            raise
        except BaseException:
            await self._rollback(conn)
            raise

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self.dsn, server_settings=SESSION)
        return self._conn

    async def _rollback(self, conn: asyncpg.Connection) -> None:
        try:
            await conn.execute("ROLLBACK")
        except (*_BROKEN, asyncpg.PostgresError):
            await self._discard()
        except asyncio.CancelledError:
            await self._discard()
            raise

    async def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()

    async def close(self) -> None:
        async with self._turn:
            if self._conn is not None:
                with contextlib.suppress(*_BROKEN, asyncpg.PostgresError):
                    await self._conn.close(timeout=5)
                self._conn = None

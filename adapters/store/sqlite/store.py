"""The store on SQLite, embedded: a SQLAlchemy engine (aiosqlite) for the
schema, its migrations and the cold paths; the standard `sqlite3` module on
threads of its own for the hot ones (`SqliteFile`).

The file is in WAL mode, so readers never wait for the writer, with FULL sync,
so a commit survives a crash. A write transaction begins IMMEDIATE: it holds
SQLite's one write lock, which is the append lock, from its first statement.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterable, AsyncIterator, Collection, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from adapters.store.common import migrating
from adapters.store.common.feed_watch import FeedWatch
from adapters.store.common.store import SqlStore
from adapters.store.feed import FeedPage, FeedQuery
from adapters.store.port import LAST
from adapters.store.queries import Query
from adapters.store.records import RawEvent, Slot, StoreAddress, StoredEvent, Upcast
from adapters.store.rows import LiveProjection, Lookup, Row
from adapters.store.sqlite import feed, history, locks, reads
from adapters.store.sqlite.file import SqliteFile
from adapters.store.sqlite.maintenance import SqliteMaintenance
from adapters.store.sqlite.statements import look_up


def database_path(url: str) -> str:
    """The file a SQLite URL names, resolved ('' or ':memory:' as they are)."""
    database = make_url(url).database or ""
    return database if database in ("", ":memory:") else str(Path(database).expanduser().resolve())


class SqliteStore(SqlStore):
    def __init__(
        self,
        url: str,
        *,
        projection: LiveProjection | None,
        upcast: Upcast,
        busy_seconds: float,
    ) -> None:
        self.path = database_path(url)
        if self.path not in ("", ":memory:"):
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": busy_seconds})
        _tune(engine, busy_seconds)
        self.file = SqliteFile(self.path, busy_timeout=busy_seconds)
        address = StoreAddress(url=url, busy_seconds=busy_seconds)
        super().__init__(engine, self.file, address, projection, upcast)
        self._follower = feed.Follower(self._feed_head)

    # ---- writing -------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _transaction(
        self, *, locked: bool, durable: bool, wait: float | None
    ) -> AsyncIterator[AsyncConnection]:
        """Every write transaction holds the write lock; durable always."""
        async with self.engine.execution_options(sqlite_immediate=True).begin() as conn:
            yield conn

    def _maintenance(self, conn: AsyncConnection) -> SqliteMaintenance:
        return SqliteMaintenance(conn)

    def exclusively(self, name: str) -> contextlib.AbstractAsyncContextManager[None]:
        return locks.exclusively(self.path, name)

    async def wait_for_readers(self, grace: float) -> None:
        """Nothing to wait for: readers keep their snapshot, old tables included."""

    async def load_history(self, batches: AsyncIterable[Sequence[StoredEvent]]) -> int:
        loaded = 0
        async for batch in batches:
            await self.file.on_writer(functools.partial(history.insert, events=batch))
            loaded += len(batch)
        return loaded

    async def migrate(self, revision: str = "head") -> None:
        with locks.migrating(self.path):
            async with self.engine.begin() as conn:
                await migrating.upgrade(conn, revision)

    # ---- reading on the hot paths ---------------------------------------------

    async def _answer(self, query: Query[Any], slot: Slot) -> Any:
        return await self.file.on_reader(lambda conn: reads.answer(conn, query, slot, self.upcast))

    async def read_raw(
        self,
        after: int,
        limit: int,
        through: int = LAST,
        *,
        data_of: Collection[str] | None = None,
    ) -> Sequence[RawEvent]:
        return await self.file.on_reader(
            lambda conn: reads.raw_events(conn, after, limit, through, data_of)
        )

    async def look_up(self, lookup: Lookup) -> list[Row]:
        if not lookup.keys:
            return []
        return await self.file.on_reader(lambda conn: look_up(conn, lookup))

    async def _read_feed(self, query: FeedQuery) -> FeedPage:
        return await self.file.on_reader(lambda conn: feed.read(conn, query))

    async def _feed_head(self) -> int:
        return await self.file.on_reader(feed.head)

    async def feed_recorded_before(self, moment: datetime) -> int:
        return await self.file.on_reader(lambda conn: feed.recorded_before(conn, moment))

    def _follow_feed(self, watch: FeedWatch) -> None:
        self._follower(watch)

    async def close(self) -> None:
        await self._follower.close()
        await asyncio.to_thread(self.file.close)
        await self.engine.dispose()


def _tune(engine: AsyncEngine, busy_seconds: float) -> None:
    """WAL for concurrent readers, FULL sync so a commit survives a crash, and
    BEGIN IMMEDIATE for writers so a write transaction holds the lock from its
    first statement (no upgrade deadlocks, appends serialised)."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(busy_seconds * 1000)}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

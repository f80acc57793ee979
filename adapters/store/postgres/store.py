"""The store on PostgreSQL: a SQLAlchemy engine for the schema, its migrations
and the cold paths; asyncpg for the hot ones (a writer connection of its own
that commits batches, and a pool for the reads that answer requests).

Several processes (and hosts) can share one database: the append lock is an
advisory transaction lock, held by every write transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Collection, Sequence
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from adapters.store.common import migrating
from adapters.store.common.feed_watch import FeedWatch
from adapters.store.common.store import SqlStore
from adapters.store.feed import FeedPage, FeedQuery
from adapters.store.port import LAST
from adapters.store.postgres import feed, history, locks, reads
from adapters.store.postgres.maintenance import PostgresMaintenance
from adapters.store.postgres.writer import SESSION, PostgresWriter
from adapters.store.queries import Query
from adapters.store.records import RawEvent, Slot, StoreAddress, StoredEvent, Upcast
from adapters.store.rows import LiveProjection, Lookup, Row


def dsn(url: str) -> str:
    """The URL as asyncpg takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresStore(SqlStore):
    def __init__(
        self,
        url: str,
        *,
        projection: LiveProjection | None,
        upcast: Upcast,
        pool_size: int,
        busy_seconds: float,
    ) -> None:
        engine = create_async_engine(
            url, pool_size=2, max_overflow=pool_size, pool_pre_ping=True, pool_recycle=1800
        )
        self.postgres_writer = PostgresWriter(dsn(url), lock_timeout=busy_seconds)
        address = StoreAddress(url=url, busy_seconds=busy_seconds)
        super().__init__(engine, self.postgres_writer, address, projection, upcast)
        self.pool_size = pool_size
        self._pool: asyncpg.Pool | None = None
        self._pool_ready = asyncio.Lock()
        self._listener = feed.Listener(dsn(url), SESSION, self.feed_watch.advance)

    # ---- writing -------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _transaction(
        self, *, locked: bool, durable: bool, wait: float | None
    ) -> AsyncIterator[AsyncConnection]:
        async with self.engine.begin() as conn:
            if locked:
                await locks.hold_appends(conn, wait or self.address.busy_seconds)
            if not durable:
                await conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
            yield conn

    def _maintenance(self, conn: AsyncConnection) -> PostgresMaintenance:
        return PostgresMaintenance(conn)

    def exclusively(self, name: str) -> contextlib.AbstractAsyncContextManager[None]:
        return locks.exclusively(self.engine, name)

    async def wait_for_readers(self, grace: float) -> None:
        await locks.wait_for_readers(self.engine, grace)

    async def load_history(self, batches: AsyncIterable[Sequence[StoredEvent]]) -> int:
        conn = await asyncpg.connect(dsn(self.address.url))
        try:
            return await history.load(conn, batches)
        finally:
            await conn.close()

    async def migrate(self, revision: str = "head") -> None:
        """A migration that ran is followed by fresh planner statistics: plans
        must not rest on what the tables held before it."""
        async with self.engine.begin() as conn:
            await locks.hold_migrations(conn)
            changed = await migrating.upgrade(conn, revision)
        if changed:
            async with self.engine.begin() as conn:
                await conn.exec_driver_sql("ANALYZE")

    # ---- reading on the hot paths ---------------------------------------------

    async def _answer(self, query: Query[Any], slot: Slot) -> Any:
        async with self._reading() as conn:
            return await reads.answer(conn, query, slot, self.upcast)

    async def read_raw(
        self,
        after: int,
        limit: int,
        through: int = LAST,
        *,
        data_of: Collection[str] | None = None,
    ) -> Sequence[RawEvent]:
        async with self._reading() as conn:
            return await reads.raw_events(conn, after, limit, through, data_of)

    async def look_up(self, lookup: Lookup) -> list[Row]:
        if not lookup.keys:
            return []
        async with self._reading() as conn:
            return await reads.look_up(conn, lookup)

    async def _read_feed(self, query: FeedQuery) -> FeedPage:
        async with self._reading() as conn:
            return await feed.read(conn, query)

    async def _feed_head(self) -> int:
        async with self._reading() as conn:
            return int(await conn.fetchval(feed.HEAD))

    async def feed_recorded_before(self, moment: datetime) -> int:
        async with self._reading() as conn:
            return int(await conn.fetchval(feed.RECORDED_BEFORE, moment))

    async def in_recovery(self) -> bool:
        """Whether this server is a standby replaying a primary's changes."""
        async with self._reading() as conn:
            return bool(await conn.fetchval("SELECT pg_is_in_recovery()"))

    def _follow_feed(self, watch: FeedWatch) -> None:
        self._listener.start()

    @contextlib.asynccontextmanager
    async def _reading(self) -> AsyncIterator[asyncpg.Connection]:
        async with self._pool_ready:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    dsn(self.address.url),
                    min_size=1,
                    max_size=self.pool_size,
                    server_settings=SESSION,
                    reset=_keep_session,
                )
        async with self._pool.acquire() as conn:
            yield conn

    async def close(self) -> None:
        await self._listener.close()
        await self.postgres_writer.close()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        await self.engine.dispose()


async def _keep_session(_: asyncpg.Connection) -> None:
    """Connections go back to the pool as they are: invtrack's reads leave no
    session state behind, so the reset round trip is not needed."""

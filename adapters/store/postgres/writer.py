"""Committing batches on PostgreSQL, on asyncpg, two at a time.

A batch commit is four round trips whatever its size:

1. `BEGIN`, a bounded `lock_timeout` and the append lock, in one simple query;
2. one statement reading everything the decisions need (the head, the
   message ids and dedupe keys already stored, stream versions, the status of
   replayed payloads, the active projection slots and the rows the live
   projections look up), each as an array (`batch_sql.read_statement`);
3. one statement writing every row of the batch: one `INSERT ... SELECT FROM
   unnest(...)` (or upsert, or `UPDATE ... FROM unnest(...)`) per table, as
   data-modifying CTEs (`batch_sql.write_statement`);
4. `COMMIT`.

Batches are pipelined: while one holds the lock, writes and commits, the next
one is read and decided on a second connection from the state the first
leaves (`adapters.store.postgres.ahead`); in its turn it takes the lock,
checks with one light statement that nothing else was written meanwhile and
writes what it decided, so step 2 is off the lock. When something was (another
process committed in between, or the batch ahead failed), it reads and
decides again under the lock, as a lone batch does. Each batch is answered
after its own `COMMIT`; batches take the lock in the order they came.

Connections plan every execution with its parameters (`plan_cache_mode =
force_custom_plan`): a plan chosen while the store was young must not stay
once it has grown.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Final

import asyncpg

from adapters.store.decide import decide
from adapters.store.errors import StoreBusy
from adapters.store.found import Batch, Decision, Found
from adapters.store.postgres.ahead import Early, Spare, Turn, readable_ahead
from adapters.store.postgres.batch_sql import (
    HEADS,
    follow_up_statement,
    found_from,
    read_statement,
    spread,
    unchanged,
    write_statement,
)
from adapters.store.postgres.feed import FEED_NOTIFY
from adapters.store.postgres.locks import APPEND_LOCK
from adapters.store.records import Slot
from adapters.store.rows import LiveProjection

SESSION: Final = {
    "plan_cache_mode": "force_custom_plan",
    "jit": "off",
    "application_name": "invtrack",
}
"""Settings of every hot-path connection."""

_BROKEN: Final = (
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    ConnectionError,
    OSError,
)
"""Failures after which a connection is not used again."""


class PostgresWriter:
    """Commits batches on one long-lived connection of its own, and reads the
    next batch ahead on a second one; a broken one is replaced on the next
    batch. Commits of one process take the append lock in turn."""

    depth = 2
    """Batches it takes at once: one in its turn, one read and decided ahead."""

    def __init__(self, dsn: str, *, lock_timeout: float) -> None:
        self.dsn = dsn
        self.lock_timeout = lock_timeout
        self._conn: asyncpg.Connection | None = None
        self._spare = Spare(dsn, SESSION)
        self._turn = asyncio.Lock()
        self._last: Turn | None = None
        self._slots: dict[str, Slot] = {}
        self._begin = (
            f"BEGIN; SET LOCAL lock_timeout = '{int(lock_timeout * 1000)}ms'; "
            f"SELECT pg_advisory_xact_lock({APPEND_LOCK})"
        )
        self.ahead = 0
        """Batches written as they were decided ahead."""
        self.again = 0
        """Batches decided ahead, then read and decided again in their turn."""

    async def commit(self, batch: Batch, projection: LiveProjection | None) -> Decision:
        ahead, mine = self._last, Turn()
        self._last = mine
        try:
            early = None
            if ahead is not None and readable_ahead(batch):
                early = await self._read_ahead(batch, projection, ahead)
            async with self._turn:
                try:
                    return await self._commit(batch, projection, mine, early, ahead)
                except asyncpg.UndefinedTableError:
                    # The cached slots' tables were dropped by a rebuild's switch
                    # (nothing was written): learn the new slots and go again.
                    self._slots = {}
                    return await self._commit(batch, projection, mine)
        finally:
            mine.settle()
            if self._last is mine:
                self._last = None

    async def _read_ahead(
        self, batch: Batch, projection: LiveProjection | None, ahead: Turn
    ) -> Early | None:
        """The batch read and decided from the state the batch ahead leaves,
        once that one holds the lock; None when that cannot be had."""
        await ahead.locked.wait()
        found = await self._spare.read(lambda conn: self._first_read(conn, batch, projection))
        await ahead.ready.wait()
        if found is None or ahead.decision is None:
            return None
        found = found.after(ahead.decision)
        # What the projections read next depends on the state the batch ahead
        # leaves: a batch that needs such a read is read again in its turn.
        more = batch.follow_ups(projection, found)
        if any(lookup.keys for lookup in more):
            return None
        found.add(more, [[] for _ in more])
        try:
            decision = decide(batch, found, projection, datetime.now(UTC))
        except Exception:  # decided again in its turn, where any failure is its own
            return None
        return Early(ahead.decision, found, decision)

    async def _commit(
        self,
        batch: Batch,
        projection: LiveProjection | None,
        mine: Turn,
        early: Early | None = None,
        ahead: Turn | None = None,
    ) -> Decision:
        async with self._transaction() as conn:
            mine.locked.set()
            if early is not None and ahead is not None and await self._holds(conn, early, ahead):
                found, decision = early.found, early.decision
                self.ahead += 1
            else:
                self.again += early is not None
                found = await self._read(conn, batch, projection)
                decision = decide(batch, found, projection, datetime.now(UTC))
            mine.decided(decision)
            await self._write(conn, decision, found)
        mine.committed = True
        return decision

    async def _holds(self, conn: asyncpg.Connection, early: Early, ahead: Turn) -> bool:
        """Whether what was decided ahead still holds under the lock."""
        return early.holds(ahead) and unchanged(await conn.fetchrow(HEADS), early.found)

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
        """What the batch needs, with the rows the projections look up first
        and those they look up next from what the first read found."""
        found = await self._first_read(conn, batch, projection)
        more = batch.follow_ups(projection, found)
        if any(lookup.keys for lookup in more):
            statement, parameters = follow_up_statement(more)
            found.add(more, spread(more, await conn.fetchrow(statement, *parameters)))
        elif more:
            # Nothing to read: no round trip.
            found.add(more, [[] for _ in more])
        return found

    async def _first_read(
        self, conn: asyncpg.Connection, batch: Batch, projection: LiveProjection | None
    ) -> Found:
        """What the batch needs, with the projections' rows of the active
        slots (read again in the rare case the slots just changed)."""
        slots = self._slots
        lookups = batch.lookups(projection, slots)
        statement, parameters = read_statement(batch, lookups)
        found = found_from(await conn.fetchrow(statement, *parameters), lookups)
        # Against the slots the lookups were made for: a batch read beside
        # this one may have learnt new ones meanwhile.
        if found.slots != slots:
            self._slots = found.slots
            lookups = batch.lookups(projection, found.slots)
            statement, parameters = read_statement(batch, lookups)
            found = found_from(await conn.fetchrow(statement, *parameters), lookups)
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
        await self._spare.close()
        async with self._turn:
            if self._conn is not None:
                with contextlib.suppress(*_BROKEN, asyncpg.PostgresError):
                    await self._conn.close(timeout=5)
                self._conn = None

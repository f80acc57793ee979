"""One SQLite file and its threads: the store's hot paths on the standard
`sqlite3` module.

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
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Final, TypeVar

from adapters.store.decide import decide
from adapters.store.found import Batch, Decision
from adapters.store.rows import LiveProjection
from adapters.store.sqlite.statements import (
    active_slots,
    begin_immediately,
    look_up,
    read,
    write,
)

T = TypeVar("T")

log = logging.getLogger(__name__)

CHECKPOINT_SECONDS: Final = 0.5
"""Time between two checkpoints off the writer's path, while commits go on."""

WAL_PAGES: Final = 10_000
"""Pages in the WAL beyond which the writer checkpoints itself."""


class SqliteFile:
    """One SQLite file: a writer thread with its connection, and reader threads
    with one connection each."""

    depth = 1
    """Batches it works on at once: its writer thread takes one at a time."""

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
            more = batch.follow_ups(projection, found)
            if more:
                found.add(more, [look_up(conn, lookup) if lookup.keys else [] for lookup in more])
            decision = decide(batch, found, projection, datetime.now(UTC))
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

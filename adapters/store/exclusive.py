"""Locks between processes that are not the append lock: one rebuild at a time,
and waiting for readers of tables about to be dropped."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Final

from sqlalchemy import text

from adapters.store.database import Database, sqlite_path
from adapters.store.errors import AlreadyRunning

LOCKS: Final = {"rebuild": 7_220_003}
"""Advisory lock ids of the exclusive locks (PostgreSQL)."""


@contextlib.asynccontextmanager
async def held(database: Database, name: str) -> AsyncIterator[None]:
    if database.is_postgres:
        async with _advisory(database, LOCKS[name]):
            yield
        return
    path = sqlite_path(database.url)
    if path in ("", ":memory:"):
        yield
        return
    with _file_lock(Path(path), name):
        yield


@contextlib.asynccontextmanager
async def _advisory(database: Database, lock: int) -> AsyncIterator[None]:
    async with database.engine.connect() as conn:
        got = await conn.scalar(text("SELECT pg_try_advisory_lock(:id)"), {"id": lock})
        await conn.commit()
        if not got:
            raise AlreadyRunning(f"lock {lock} is held by another process")
        try:
            yield
        finally:
            try:
                await conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": lock})
                await conn.commit()
            except BaseException:
                # Closing the session is what releases the lock then.
                await conn.invalidate()
                raise


@contextlib.contextmanager
def _file_lock(database: Path, name: str) -> Iterator[None]:
    handle = database.with_name(f"{database.name}.{name}-lock").open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise AlreadyRunning(f"{name} is running in another process") from None
    try:
        yield
    finally:
        handle.close()


async def wait_for_readers(database: Database, grace: float) -> None:
    """Wait (at most `grace` seconds) until every transaction that began before
    now has ended. On PostgreSQL a query may have read the registry in one
    statement and be about to read the tables it named; SQLite readers keep
    their snapshot, old tables included."""
    if not database.is_postgres or grace <= 0:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    async with database.engine.connect() as conn:
        since: datetime | None = await conn.scalar(text("SELECT clock_timestamp()"))
        await conn.commit()
        while True:
            # pg_stat_activity is read once per transaction: one per look.
            older = await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND backend_type = 'client backend' AND xact_start < :since"
                ),
                {"since": since},
            )
            await conn.commit()
            if not older or loop.time() >= deadline:
                return
            await asyncio.sleep(0.05)

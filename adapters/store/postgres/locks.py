"""PostgreSQL's locks between processes: advisory locks (the append lock every
write transaction holds, one migration and one rebuild at a time), and waiting
for readers of tables about to be dropped."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.store.errors import AlreadyRunning

APPEND_LOCK: Final = 7_220_002
"""Advisory lock id held by every write transaction."""

MIGRATION_LOCK: Final = 7_220_001
"""Advisory lock id that keeps two processes from migrating at once."""

LOCKS: Final = {"rebuild": 7_220_003}
"""Advisory lock ids of the exclusive locks."""


async def hold_appends(conn: AsyncConnection, wait: float) -> None:
    """Take the append lock in the connection's transaction, waiting at most
    `wait` seconds (LockNotAvailable after that)."""
    await conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(wait * 1000)}ms'")
    await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({APPEND_LOCK})")


async def hold_migrations(conn: AsyncConnection) -> None:
    await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")


@contextlib.asynccontextmanager
async def exclusively(engine: AsyncEngine, name: str) -> AsyncIterator[None]:
    """An advisory session lock: it ends with the session, so with the process."""
    lock = LOCKS[name]
    async with engine.connect() as conn:
        got = await conn.scalar(text("SELECT pg_try_advisory_lock(:id)"), {"id": lock})
        await conn.commit()
        if not got:
            raise AlreadyRunning(f"{name} is running in another process")
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


async def wait_for_readers(engine: AsyncEngine, grace: float) -> None:
    """Wait (at most `grace` seconds) until every transaction that began before
    now has ended: a query may have read the registry in one statement and be
    about to read the tables it named."""
    if grace <= 0:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    async with engine.connect() as conn:
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

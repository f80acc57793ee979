"""Throwaway databases: a PostgreSQL database per test, and migrated stores.

PostgreSQL tests need the server at INVTRACK_TEST_PG_ADMIN (default
postgresql://postgres@127.0.0.1:5432/postgres). When it is unreachable they
are skipped on a developer machine and fail when `CI` is set.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import asyncpg
import pytest

from adapters.store import EventStore, connect
from projections.live import LiveProjector
from projections.setup import prepare

PG_ADMIN = os.environ.get("INVTRACK_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
_RUN = f"{os.getpid()}_{secrets.token_hex(3)}"
_numbers = itertools.count()
_reachable: bool | None = None


def _admin(sql: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(PG_ADMIN, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def _postgres_reachable() -> bool:
    global _reachable
    if _reachable is None:
        try:
            _admin("SELECT 1")
            _reachable = True
        except (OSError, asyncpg.PostgresError, TimeoutError):
            _reachable = False
    return _reachable


def pg_database_url() -> Iterator[str]:
    """Create a throwaway PostgreSQL database, yield its URL, then drop it."""
    if not _postgres_reachable():
        message = f"PostgreSQL is unreachable at {PG_ADMIN}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI is set: PostgreSQL tests must run)")
        pytest.skip(message)
    name = f"invtrack_test_{_RUN}_{next(_numbers)}"
    _admin(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@asynccontextmanager
async def migrated_store(url: str) -> AsyncIterator[EventStore]:
    """A migrated store at `url` with its projections set up."""
    database = connect(url)
    await database.migrate()
    event_store = EventStore(database, LiveProjector())
    await prepare(event_store)
    try:
        yield event_store
    finally:
        await database.dispose()

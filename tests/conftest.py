"""Shared fixtures: a throwaway database per test, on SQLite and on PostgreSQL.

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
from pathlib import Path

import asyncpg
import pytest

from adapters.store import EventStore, connect
from projections.setup import prepare

PG_ADMIN = os.environ.get("INVTRACK_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
FIXTURES = Path(__file__).resolve().parent / "fixtures"
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


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from pg_database_url()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """One URL per backend: every test using it runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'invtrack.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@asynccontextmanager
async def migrated_store(url: str) -> AsyncIterator[EventStore]:
    """A migrated store at `url` with its projections set up."""
    database = connect(url)
    await database.migrate()
    event_store = EventStore(database)
    await prepare(event_store)
    try:
        yield event_store
    finally:
        await database.dispose()


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[EventStore]:
    """A migrated store on each backend."""
    async with migrated_store(database_url) as event_store:
        yield event_store


@pytest.fixture
async def pg_store(pg_url: str) -> AsyncIterator[EventStore]:
    """A migrated store on PostgreSQL only."""
    async with migrated_store(pg_url) as event_store:
        yield event_store

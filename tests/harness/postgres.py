"""A PostgreSQL server's administration, for the tests and the benchmarks:
throwaway databases created for one test or run and dropped after it, the
server's settings, and vacuuming as autovacuum would in time."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.engine import make_url

DEFAULT_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def admin_url(variable: str) -> str:
    """The administrator's URL the environment names, or the local server's."""
    return os.environ.get(variable, DEFAULT_ADMIN)


async def reachable(admin: str) -> bool:
    try:
        conn = await asyncpg.connect(admin, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True


def url_for(admin: str, name: str, driver: str = "postgresql+asyncpg") -> str:
    """The admin URL pointed at another database, with the given driver."""
    url = make_url(admin).set(drivername=driver, database=name)
    return url.render_as_string(hide_password=False)


def plain(url: str) -> str:
    """A URL asyncpg itself accepts (no SQLAlchemy driver suffix)."""
    return url_for(url, make_url(url).database or "postgres", "postgresql")


SETTINGS = (
    "shared_buffers",
    "synchronous_commit",
    "fsync",
    "wal_level",
    "max_wal_size",
    "work_mem",
    "plan_cache_mode",
    "autovacuum",
    "max_connections",
)


async def server_settings(admin: str) -> dict[str, str]:
    """The server's version and the settings that shape the figures."""
    conn = await asyncpg.connect(admin, timeout=10)
    try:
        found = {"version": await conn.fetchval("SHOW server_version")}
        for name in SETTINGS:
            found[name] = await conn.fetchval(f"SHOW {name}")
    finally:
        await conn.close()
    return found


async def vacuum(url: str) -> dict[str, int]:
    """VACUUM (ANALYZE) the whole database, as autovacuum would in time; the
    dead rows each table held before (those with any)."""
    conn = await asyncpg.connect(plain(url), timeout=10)
    try:
        rows = await conn.fetch(
            "SELECT relname, n_dead_tup FROM pg_stat_user_tables "
            "WHERE n_dead_tup > 0 ORDER BY relname"
        )
        await conn.execute("VACUUM (ANALYZE)")
    finally:
        await conn.close()
    return {row["relname"]: row["n_dead_tup"] for row in rows}


async def checkpoint(url: str) -> None:
    """Write every dirty page out now (CHECKPOINT): what comes next starts
    with no checkpoint under way and pays the full-page writes of whatever it
    touches first."""
    conn = await asyncpg.connect(plain(url), timeout=10)
    try:
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


def unique_name(prefix: str) -> str:
    """A database name no other process on this machine picks."""
    return f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"


async def create(admin: str, name: str) -> str:
    """A new empty database; its SQLAlchemy URL."""
    conn = await asyncpg.connect(admin, timeout=10)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return url_for(admin, name)


async def drop(admin: str, url: str) -> None:
    name = make_url(url).database
    conn = await asyncpg.connect(admin, timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@asynccontextmanager
async def throwaway(admin: str, name: str) -> AsyncIterator[str]:
    """A new empty database for the duration; yields its SQLAlchemy URL."""
    url = await create(admin, name)
    try:
        yield url
    finally:
        await drop(admin, url)


async def table_sizes(url: str) -> dict[str, tuple[int, int]]:
    """Every table of the database: its rows and its bytes on disk (with its
    indexes and TOAST)."""
    conn = await asyncpg.connect(plain(url), timeout=10)
    try:
        names = await conn.fetch(
            "SELECT relid::regclass::text AS name, pg_total_relation_size(relid) AS bytes "
            "FROM pg_stat_user_tables ORDER BY 1"
        )
        found = {}
        for row in names:
            rows = await conn.fetchval(f"SELECT count(*) FROM {row['name']}")
            found[row["name"]] = (int(rows), int(row["bytes"]))
    finally:
        await conn.close()
    return found


async def database_bytes(url: str) -> int:
    conn = await asyncpg.connect(plain(url), timeout=10)
    try:
        return int(await conn.fetchval("SELECT pg_database_size(current_database())"))
    finally:
        await conn.close()

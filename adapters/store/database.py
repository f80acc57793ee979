"""The two backends: a SQLAlchemy engine for the schema, its migrations and the
cold paths, and the raw drivers for the hot ones (asyncpg on PostgreSQL, the
standard `sqlite3` module on SQLite)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from adapters.store.postgres import SESSION, PostgresWriter
from adapters.store.sqlite import SqliteFile

MIGRATIONS = str(Path(__file__).with_name("migrations"))
MIGRATION_LOCK = 7_220_001
"""Advisory lock id that keeps two processes from migrating at once."""

BUSY_SECONDS = 5.0
"""How long a write waits for another writer before the store is called busy."""


class UnsupportedDatabase(ValueError):
    """The database URL names neither PostgreSQL nor SQLite."""


def normalize_url(url: str) -> str:
    """Accept plain `postgresql://` and `sqlite://` URLs; use the async drivers."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    if parsed.drivername not in ("postgresql+asyncpg", "sqlite+aiosqlite"):
        raise UnsupportedDatabase(
            f"unsupported database URL scheme {parsed.drivername!r}: "
            "use postgresql://... or sqlite:///path"
        )
    return parsed.render_as_string(hide_password=False)


@dataclass
class Database:
    """An engine, the raw access of its backend, and the schema's migrations."""

    engine: AsyncEngine
    url: str
    busy_seconds: float = BUSY_SECONDS
    pool_size: int = 10
    _sqlite: SqliteFile | None = None
    _writer: PostgresWriter | None = None
    _pool: asyncpg.Pool | None = None
    _pool_ready: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @property
    def dsn(self) -> str:
        """The URL as asyncpg takes it."""
        url = make_url(self.url).set(drivername="postgresql")
        return url.render_as_string(hide_password=False)

    @property
    def sqlite(self) -> SqliteFile:
        """The SQLite file's raw access (SQLite only)."""
        if self._sqlite is None:
            self._sqlite = SqliteFile(sqlite_path(self.url), busy_timeout=self.busy_seconds)
        return self._sqlite

    @property
    def writer(self) -> PostgresWriter:
        """The connection that commits batches (PostgreSQL only)."""
        if self._writer is None:
            self._writer = PostgresWriter(self.dsn, lock_timeout=self.busy_seconds)
        return self._writer

    async def pool(self) -> asyncpg.Pool:
        """Connections for reads on the hot paths (PostgreSQL only)."""
        async with self._pool_ready:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self.dsn,
                    min_size=1,
                    max_size=self.pool_size,
                    server_settings=SESSION,
                    reset=_keep_session,
                )
        return self._pool

    async def migrate(self, revision: str = "head") -> None:
        """Create or upgrade the store's schema to a migration, the newest by
        default. Safe when several processes start together. A migration that
        ran is followed by fresh planner statistics (PostgreSQL): plans must
        not rest on what the tables held before it."""
        with self._migrating():
            async with self.engine.begin() as conn:
                if self.is_postgres:
                    await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
                before = await conn.run_sync(_revision)
                await conn.run_sync(_upgrade, revision)
                changed = await conn.run_sync(_revision) != before
            if changed and self.is_postgres:
                async with self.engine.begin() as conn:
                    await conn.exec_driver_sql("ANALYZE")

    @contextlib.contextmanager
    def _migrating(self) -> Iterator[None]:
        """On SQLite, a lock file beside the database: the first process
        switches the file to WAL and migrates, the others wait for it."""
        if self.is_postgres or sqlite_path(self.url) == ":memory:":
            yield
            return
        path = Path(sqlite_path(self.url))
        with path.with_name(path.name + ".migrate-lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    async def current_revision(self) -> str | None:
        async with self.engine.connect() as conn:
            return await conn.run_sync(_revision)

    async def dispose(self) -> None:
        if self._writer is not None:
            await self._writer.close()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        if self._sqlite is not None:
            await asyncio.to_thread(self._sqlite.close)
            self._sqlite = None
        await self.engine.dispose()

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[Any]:
        """A connection for hot-path reads: asyncpg on PostgreSQL; on SQLite,
        use `sqlite.on_reader` instead."""
        pool = await self.pool()
        async with pool.acquire() as conn:
            yield conn


async def _keep_session(_: asyncpg.Connection) -> None:
    """Connections go back to the pool as they are: invtrack's reads leave no
    session state behind, so the reset round trip is not needed."""


def sqlite_path(url: str) -> str:
    database = make_url(url).database or ""
    return database if database in ("", ":memory:") else str(Path(database).expanduser().resolve())


def connect(url: str, *, pool_size: int = 10, busy_seconds: float = BUSY_SECONDS) -> Database:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": busy_seconds})
        _tune_sqlite(engine, busy_seconds)
    else:
        engine = create_async_engine(
            url, pool_size=2, max_overflow=pool_size, pool_pre_ping=True, pool_recycle=1800
        )
    return Database(engine=engine, url=url, busy_seconds=busy_seconds, pool_size=pool_size)


def _tune_sqlite(engine: AsyncEngine, busy_seconds: float) -> None:
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


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection, revision: str) -> None:
    command.upgrade(_config(connection), revision)


def _revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()

"""Running the schema's migrations (Alembic, shared by both backends) on a
connection the backend has opened and locked."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

MIGRATIONS = str(Path(__file__).parent.parent / "migrations")


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection, revision: str) -> None:
    command.upgrade(_config(connection), revision)


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def revision(conn: AsyncConnection) -> str | None:
    """The migration the schema is at, None for an empty database."""
    return await conn.run_sync(_revision)


async def upgrade(conn: AsyncConnection, to: str) -> bool:
    """Upgrade the schema to a migration; whether anything ran."""
    before = await revision(conn)
    await conn.run_sync(_upgrade, to)
    return await revision(conn) != before

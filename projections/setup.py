"""Bring the projections' tables in line with this build, and say which are stale."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.store import EventStore
from domain.events import from_data
from projections.base import Projection, active_versions, checkpoint, register
from projections.catalog import PROJECTIONS


class Stale(msgspec.Struct, frozen=True):
    """A projection served from an older version than this build's."""

    name: str
    active: int
    wanted: int


async def create_tables(conn: AsyncConnection, projection: Projection, version: int) -> None:
    metadata = MetaData()
    projection.tables(version, metadata)
    await conn.run_sync(metadata.create_all)


async def prepare(
    store: EventStore, projections: Sequence[Projection] = PROJECTIONS
) -> list[Stale]:
    """Give every projection an active version (building a new one from the
    history when there is none) and list those whose active version is older."""
    stale: list[Stale] = []
    async with store.writing() as writer:
        active = await active_versions(writer.conn)
        for projection in projections:
            version = active.get(projection.name)
            if version is None:
                await create_tables(writer.conn, projection, projection.version)
                await register(writer.conn, projection.name, projection.version, "active")
                await _catch_up(store, writer.conn, projection)
            elif version != projection.version:
                stale.append(Stale(projection.name, version, projection.version))
    return stale


async def _catch_up(store: EventStore, conn: AsyncConnection, projection: Projection) -> None:
    """Fold the whole history into a projection that has just been created."""
    position = 0
    while batch := await store.read_all(position, 5000):
        applied = [(event.position, from_data(event.data)) for event in batch]
        await projection.apply(conn, projection.version, applied)
        position = batch[-1].position
        await checkpoint(conn, projection.name, projection.version, position)

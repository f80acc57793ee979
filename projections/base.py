"""What every projection offers, and the registry of their versions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import MetaData, Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.store.schema import projections as registry
from domain.events import DomainEvent

Applied = Sequence[tuple[int, DomainEvent]]
"""Events with their store positions, in store order."""


class Projection(Protocol):
    """A fold of the events into tables of its own, one set of tables per version.

    Bump `version` whenever the fold's rules or its tables change: the new
    version is built from the full history by `invtrack rebuild` while the old
    one keeps serving.
    """

    name: str
    version: int

    def tables(self, version: int, metadata: MetaData) -> list[Table]:
        """The tables of one version, defined on `metadata`."""
        ...

    async def apply(self, conn: AsyncConnection, version: int, events: Applied) -> None:
        """Fold the events into the version's tables (they come in store order)."""
        ...


def table_name(base: str, version: int) -> str:
    return f"{base}_v{version}"


async def active_versions(conn: AsyncConnection) -> dict[str, int]:
    """The version of each projection that is served and kept live."""
    rows = await conn.execute(
        select(registry.c.name, registry.c.version).where(registry.c.state == "active")
    )
    return {name: int(version) for name, version in rows}


async def register(
    conn: AsyncConnection, name: str, version: int, state: str, position: int = 0
) -> None:
    now = datetime.now(UTC)
    await conn.execute(
        insert(registry).values(
            name=name,
            version=version,
            state=state,
            position=position,
            started_at=now,
            updated_at=now,
        )
    )


async def checkpoint(conn: AsyncConnection, name: str, version: int, position: int) -> None:
    """Record that the version has applied every event up to `position`."""
    await conn.execute(
        update(registry)
        .where(registry.c.name == name, registry.c.version == version)
        .values(position=position, updated_at=datetime.now(UTC))
    )

"""What every projection offers, and the registry of their versions and builds."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Literal, Protocol

import msgspec
from sqlalchemy import MetaData, Table, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.store.schema import projections as registry
from domain.events import DomainEvent

Applied = Sequence[tuple[int, DomainEvent]]
"""Events with their store positions, in store order."""

State = Literal["active", "building", "retired"]


class Slot(msgspec.Struct, frozen=True, order=True):
    """One set of a projection's tables: the version of its rules, and which
    build of that version they hold. A rebuild of the version already served
    fills a new build, so the served tables stay untouched until the switch."""

    version: int
    generation: int = 1

    def __str__(self) -> str:
        if self.generation == 1:
            return f"v{self.version}"
        return f"v{self.version} build {self.generation}"


class Projection(Protocol):
    """A fold of the events into tables of its own, one set of tables per slot.

    Bump `version` whenever the fold's rules or its tables change: the new
    version is built from the full history by `invtrack rebuild` while the old
    one keeps serving.
    """

    name: str
    version: int

    def tables(self, slot: Slot, metadata: MetaData) -> list[Table]:
        """The tables of one slot, defined on `metadata`."""
        ...

    async def apply(self, conn: AsyncConnection, slot: Slot, events: Applied) -> None:
        """Fold the events into the slot's tables (they come in store order)."""
        ...


class Registered(msgspec.Struct, frozen=True, kw_only=True):
    """A row of the registry: one slot of one projection and how far it is."""

    name: str
    slot: Slot
    state: State
    position: int
    started_at: datetime
    updated_at: datetime


@functools.cache
def shared_table(define: Callable[[Slot, MetaData], Table], slot: Slot) -> Table:
    """One Table object per definition and slot for the life of the process:
    SQLAlchemy caches a statement's compiled SQL by the Table objects in it, so
    a new Table per statement would compile every statement again."""
    return define(slot, MetaData())


def table_name(base: str, slot: Slot) -> str:
    """`items_v2` for the first build of version 2, `items_v2_3` for its third."""
    suffix = f"v{slot.version}" if slot.generation == 1 else f"v{slot.version}_{slot.generation}"
    return f"{base}_{suffix}"


async def create_tables(conn: AsyncConnection, projection: Projection, slot: Slot) -> None:
    metadata = MetaData()
    projection.tables(slot, metadata)
    await conn.run_sync(metadata.create_all)


async def drop_tables(conn: AsyncConnection, projection: Projection, slot: Slot) -> None:
    """Drop the slot's tables; those already gone are skipped."""
    metadata = MetaData()
    projection.tables(slot, metadata)
    await conn.run_sync(metadata.drop_all)


async def active_versions(conn: AsyncConnection) -> dict[str, Slot]:
    """The slot of each projection that is served and kept live."""
    rows = await conn.execute(
        select(registry.c.name, registry.c.version, registry.c.generation).where(
            registry.c.state == "active"
        )
    )
    return {name: Slot(int(version), int(generation)) for name, version, generation in rows}


async def registered(conn: AsyncConnection, names: Sequence[str] | None = None) -> list[Registered]:
    """Every slot of the named projections (all when None), by name and slot."""
    query = select(registry)
    if names is not None:
        query = query.where(registry.c.name.in_(list(names)))
    rows = await conn.execute(
        query.order_by(registry.c.name, registry.c.version, registry.c.generation)
    )
    return [
        Registered(
            name=row.name,
            slot=Slot(int(row.version), int(row.generation)),
            state=row.state,
            position=int(row.position),
            started_at=row.started_at,
            updated_at=row.updated_at,
        )
        for row in rows
    ]


async def next_slot(conn: AsyncConnection, name: str, version: int) -> Slot:
    """A slot of the version whose tables no build has used yet."""
    highest = await conn.scalar(
        select(func.max(registry.c.generation)).where(
            registry.c.name == name, registry.c.version == version
        )
    )
    return Slot(version, int(highest or 0) + 1)


async def register(
    conn: AsyncConnection, name: str, slot: Slot, state: State, position: int = 0
) -> None:
    now = datetime.now(UTC)
    await conn.execute(
        insert(registry).values(
            name=name,
            version=slot.version,
            generation=slot.generation,
            state=state,
            position=position,
            started_at=now,
            updated_at=now,
        )
    )


async def set_state(conn: AsyncConnection, name: str, slot: Slot, state: State) -> None:
    await conn.execute(
        update(registry)
        .where(
            registry.c.name == name,
            registry.c.version == slot.version,
            registry.c.generation == slot.generation,
        )
        .values(state=state, updated_at=datetime.now(UTC))
    )


async def checkpoint(conn: AsyncConnection, name: str, slot: Slot, position: int) -> None:
    """Record that the slot has applied every event up to `position`."""
    await conn.execute(
        update(registry)
        .where(
            registry.c.name == name,
            registry.c.version == slot.version,
            registry.c.generation == slot.generation,
        )
        .values(position=position, updated_at=datetime.now(UTC))
    )

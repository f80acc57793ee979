"""The projection registry: every build of every projection version and how far
it has got. The store keeps it next to the events, so a checkpoint commits in
the same transaction as the rows it covers.

A rebuild of the version already served fills a new build (`Slot`), so the
served tables stay untouched until the switch. Through SQLAlchemy Core, the
same on both backends.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Update, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.store.records import Registered, Slot, State
from adapters.store.schema import projections as registry


async def active_slots(conn: AsyncConnection) -> dict[str, Slot]:
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
    await conn.execute(_update(name, slot).values(state=state, updated_at=datetime.now(UTC)))


async def checkpoint(conn: AsyncConnection, name: str, slot: Slot, position: int) -> None:
    """Record that the slot has applied every event up to `position`."""
    await conn.execute(_update(name, slot).values(position=position, updated_at=datetime.now(UTC)))


def _update(name: str, slot: Slot) -> Update:
    """An update of one slot's row."""
    return update(registry).where(
        registry.c.name == name,
        registry.c.version == slot.version,
        registry.c.generation == slot.generation,
    )

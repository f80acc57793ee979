"""What a maintenance transaction does alike on both backends, through
SQLAlchemy Core: the registry, creating, emptying and dropping tables. Each
backend adds how rows are written and looked up, and what a fill can leave
out of new tables until it is done."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence

from sqlalchemy import MetaData, Table, delete, inspect, select
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.store.common import reads, registry
from adapters.store.records import Registered, Slot, State
from adapters.store.rows import Lookup, Row, TableWrite


class CoreMaintenance(ABC):
    """One maintenance transaction on a SQLAlchemy connection."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    @abstractmethod
    async def write(self, writes: Sequence[TableWrite], *, copy: bool = False) -> None: ...

    @abstractmethod
    async def look_up(self, lookup: Lookup) -> list[Row]: ...

    async def head(self) -> int:
        return await reads.head(self.conn)

    # ---- the registry ------------------------------------------------------------

    async def active_slots(self) -> dict[str, Slot]:
        return await registry.active_slots(self.conn)

    async def registered(self, names: Sequence[str] | None = None) -> list[Registered]:
        return await registry.registered(self.conn, names)

    async def next_slot(self, name: str, version: int) -> Slot:
        return await registry.next_slot(self.conn, name, version)

    async def register(self, name: str, slot: Slot, state: State, position: int = 0) -> None:
        await registry.register(self.conn, name, slot, state, position)

    async def set_state(self, name: str, slot: Slot, state: State) -> None:
        await registry.set_state(self.conn, name, slot, state)

    async def checkpoint(self, name: str, slot: Slot, position: int) -> None:
        await registry.checkpoint(self.conn, name, slot, position)

    # ---- tables ------------------------------------------------------------------

    async def create(self, tables: Sequence[Table], *, bare: bool = False) -> None:
        """Create the tables (with everything: a backend may leave out more)."""
        await self.conn.run_sync(metadata_of(tables).create_all)

    @abstractmethod
    async def drop_primary_key(self, table: Table) -> None: ...

    @abstractmethod
    async def finish(self, tables: Sequence[Table]) -> None: ...

    async def drop(self, tables: Sequence[Table]) -> None:
        await self.conn.run_sync(metadata_of(tables).drop_all)

    async def table_names(self) -> set[str]:
        names: list[str] = await self.conn.run_sync(lambda sync: inspect(sync).get_table_names())
        return set(names)

    async def rows(self, table: Table, columns: Sequence[str]) -> list[Row]:
        query = select(*(table.c[name] for name in columns)).order_by(*table.primary_key.columns)
        return [tuple(row) for row in await self.conn.execute(query)]

    async def empty(self, names: Collection[str]) -> None:
        existing = await self.table_names()
        metadata = MetaData()
        for name in sorted(set(names) & existing):
            await self.conn.execute(delete(Table(name, metadata)))


def metadata_of(tables: Sequence[Table]) -> MetaData:
    """A MetaData holding copies of the tables (they may belong to another)."""
    metadata = MetaData()
    for table in tables:
        table.to_metadata(metadata)
    return metadata

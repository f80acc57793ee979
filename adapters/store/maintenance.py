"""Maintenance transactions: setting projections up, filling a slot during a
rebuild and switching to it. Their writes are described as `TableWrite`s like a
batch's; new rows go in with COPY on PostgreSQL when asked for.

Projection tables are created without the indexes a fill does not need and
get them afterwards (`finish`), which is much faster than maintaining them
row by row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import MetaData, Table, text
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.store import registry, sqlite
from adapters.store.postgres import json_list, write_statement
from adapters.store.registry import Part, Registered, Slot, State
from adapters.store.rows import Lookup, Row, TableWrite


class Maintenance:
    """One maintenance transaction (see `EventStore.maintaining`)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"

    # ---- rows ------------------------------------------------------------------

    async def write(self, writes: Sequence[TableWrite], *, copy: bool = False) -> None:
        """Write the rows; with `copy`, new rows (`insert`) go in with COPY on
        PostgreSQL."""
        if not self.postgres:
            for write in writes:
                if write.rows:
                    statement = sqlite.write_sql(write)
                    await self.conn.exec_driver_sql(statement, sqlite.bound(write))
            return
        driver = await self._driver()
        rest = []
        for write in writes:
            if copy and write.mode == "insert" and write.rows:
                await driver.copy_records_to_table(
                    write.table.name, records=write.rows, columns=write.columns
                )
            elif write.rows:
                rest.append(write)
        if rest:
            statement, parameters = write_statement(rest)
            await driver.execute(statement, *parameters)

    async def look_up(self, lookup: Lookup) -> list[Row]:
        if not lookup.keys:
            return []
        if self.postgres:
            driver = await self._driver()
            records = await driver.fetch(
                f"SELECT {', '.join(lookup.columns)} FROM {lookup.table.name} "  # noqa: S608
                f"WHERE {lookup.key} {json_list(1)}",
                sqlite.json_list(lookup.keys),
            )
            return [tuple(record) for record in records]
        result = await self.conn.exec_driver_sql(
            f"SELECT {', '.join(lookup.columns)} FROM {lookup.table.name} "  # noqa: S608
            f"WHERE {lookup.key} IN (SELECT value FROM json_each(?))",
            (sqlite.json_list(lookup.keys),),
        )
        return sqlite.convert(
            [tuple(row) for row in result], sqlite.decoders(lookup.table, lookup.columns)
        )

    async def _driver(self) -> Any:
        """The asyncpg connection under this transaction."""
        raw = await self.conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        if not driver.is_in_transaction():
            # SQLAlchemy opens its transaction with the first statement; a
            # statement sent through the driver must not run outside of it.
            await self.conn.exec_driver_sql("SELECT 1")
        return driver

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

    async def part_checkpoint(self, name: str, slot: Slot, part: Part, position: int) -> None:
        await registry.part_checkpoint(self.conn, name, slot, part, position)

    async def part_checkpoints(self, name: str, slot: Slot) -> dict[Part, int]:
        return await registry.part_checkpoints(self.conn, name, slot)

    async def clear_parts(self, name: str, slot: Slot) -> None:
        await registry.clear_parts(self.conn, name, slot)

    # ---- projection tables ------------------------------------------------------

    async def create(self, tables: Sequence[Table], *, bare: bool = False) -> None:
        """Create the tables; `bare` leaves out (on PostgreSQL) every index but
        the unique ones, and the primary key of tables that are only added to."""
        metadata = _metadata_of(tables)
        await self.conn.run_sync(metadata.create_all)
        if not (bare and self.postgres):
            return
        for table in tables:
            for index in table.indexes:
                if not index.unique:
                    await self.conn.run_sync(index.drop)

    async def drop_primary_key(self, table: Table) -> None:
        """PostgreSQL: no primary key while a table is only added to."""
        if self.postgres:
            await self.conn.exec_driver_sql(
                f"ALTER TABLE {table.name} DROP CONSTRAINT IF EXISTS {table.name}_pkey"
            )

    async def finish(self, tables: Sequence[Table]) -> None:
        """PostgreSQL: the keys and indexes `create(bare=True)` left out, built
        in one go each, and the statistics the planner needs."""
        if not self.postgres:
            return
        # Sorting for an index build is faster the more of it fits in memory.
        await self.conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
        for table in tables:
            has_key = await self.conn.scalar(
                text(
                    "SELECT count(*) FROM pg_constraint "
                    "WHERE conrelid = CAST(:name AS regclass) AND contype = 'p'"
                ),
                {"name": table.name},
            )
            if not has_key:
                columns = ", ".join(column.name for column in table.primary_key.columns)
                await self.conn.exec_driver_sql(
                    f"ALTER TABLE {table.name} "
                    f"ADD CONSTRAINT {table.name}_pkey PRIMARY KEY ({columns})"
                )
            for index in table.indexes:
                await self.conn.run_sync(index.create, checkfirst=True)
            await self.conn.exec_driver_sql(f"ANALYZE {table.name}")

    async def drop(self, tables: Sequence[Table]) -> None:
        """Drop the tables; those already gone are skipped."""
        await self.conn.run_sync(_metadata_of(tables).drop_all)

    async def table_names(self) -> set[str]:
        from sqlalchemy import inspect

        names: list[str] = await self.conn.run_sync(lambda sync: inspect(sync).get_table_names())
        return set(names)


def _metadata_of(tables: Sequence[Table]) -> MetaData:
    """A MetaData holding copies of the tables (they may belong to another)."""
    metadata = MetaData()
    for table in tables:
        table.to_metadata(metadata)
    return metadata

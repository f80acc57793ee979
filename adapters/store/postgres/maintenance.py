"""Maintenance transactions on PostgreSQL: new rows with COPY, tables filled
without the indexes and keys a fill does not need and given them once full,
look-ups through the transaction's own asyncpg connection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, text

from adapters.store.common.maintenance import CoreMaintenance
from adapters.store.postgres import reads
from adapters.store.postgres.batch_sql import write_statement
from adapters.store.rows import Lookup, Row, TableWrite


class PostgresMaintenance(CoreMaintenance):
    async def write(self, writes: Sequence[TableWrite], *, copy: bool = False) -> None:
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
        return await reads.look_up(await self._driver(), lookup)

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

    async def create(self, tables: Sequence[Table], *, bare: bool = False) -> None:
        """With `bare`, every index but the unique ones is left out."""
        await super().create(tables)
        if not bare:
            return
        for table in tables:
            for index in table.indexes:
                if not index.unique:
                    await self.conn.run_sync(index.drop)

    async def drop_primary_key(self, table: Table) -> None:
        await self.conn.exec_driver_sql(
            f"ALTER TABLE {table.name} DROP CONSTRAINT IF EXISTS {table.name}_pkey"
        )

    async def finish(self, tables: Sequence[Table]) -> None:
        """The keys and indexes `create(bare=True)` left out, built in one go
        each, and the statistics the planner needs."""
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

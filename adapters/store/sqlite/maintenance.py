"""Maintenance transactions on SQLite: rows written with executemany on the
transaction's own connection (COPY has no counterpart: SQLite's inserts are
already local)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table

from adapters.store.common.maintenance import CoreMaintenance
from adapters.store.rows import Lookup, Row, TableWrite
from adapters.store.sqlite.statements import (
    bound,
    convert,
    decoders,
    json_list,
    look_up_sql,
    write_sql,
)


class SqliteMaintenance(CoreMaintenance):
    async def write(self, writes: Sequence[TableWrite], *, copy: bool = False) -> None:
        for write in writes:
            if write.rows:
                await self.conn.exec_driver_sql(write_sql(write), bound(write))

    async def look_up(self, lookup: Lookup) -> list[Row]:
        if not lookup.keys:
            return []
        result = await self.conn.exec_driver_sql(look_up_sql(lookup), (json_list(lookup.keys),))
        rows = [tuple(row) for row in result]
        return convert(rows, decoders(lookup.table, lookup.columns))

    async def drop_primary_key(self, table: Table) -> None:
        """Kept: SQLite fills a table with its key as fast as without."""

    async def finish(self, tables: Sequence[Table]) -> None:
        """Nothing was left out (`create` makes every index on SQLite)."""

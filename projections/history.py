"""The `history` projection: which events touched which item, for item histories."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from sqlalchemy import Column, MetaData, String, Table
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.store.schema import Position
from domain.fold import touched_keys
from projections.base import Applied, Slot, shared_table, table_name
from projections.items import driver, insert_ignore

NAME: Final = "history"
VERSION: Final = 1


def item_events_table(slot: Slot, metadata: MetaData) -> Table:
    return Table(
        table_name("item_events", slot),
        metadata,
        Column("key", String(64), primary_key=True),
        Column("position", Position, primary_key=True),
    )


class HistoryProjection:
    name = NAME
    version = VERSION

    def tables(self, slot: Slot, metadata: MetaData) -> list[Table]:
        return [item_events_table(slot, metadata)]

    async def apply(self, conn: AsyncConnection, slot: Slot, events: Applied) -> None:
        rows = [
            {"key": key, "position": position}
            for position, event in events
            for key in touched_keys(event)
        ]
        if rows:
            await conn.execute(insert_ignore(conn, shared_table(item_events_table, slot)), rows)


async def write_links(conn: AsyncConnection, slot: Slot, links: Sequence[tuple[str, int]]) -> None:
    """Record (key, position) links that are not stored yet: a rebuild's new
    positions. COPY on PostgreSQL."""
    if not links:
        return
    if conn.dialect.name != "postgresql":
        rows = [{"key": key, "position": position} for key, position in links]
        await conn.execute(insert_ignore(conn, shared_table(item_events_table, slot)), rows)
        return
    pg = await driver(conn)
    await pg.copy_records_to_table(
        table_name("item_events", slot), records=links, columns=("key", "position")
    )

"""The `history` projection: which events touched which item, for item histories."""

from __future__ import annotations

from typing import Final

from sqlalchemy import Column, MetaData, String, Table
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.store.schema import Position
from domain.fold import touched_keys
from projections.base import Applied, table_name
from projections.items import insert_ignore

NAME: Final = "history"
VERSION: Final = 1


def item_events_table(version: int, metadata: MetaData) -> Table:
    return Table(
        table_name("item_events", version),
        metadata,
        Column("key", String(64), primary_key=True),
        Column("position", Position, primary_key=True),
    )


class HistoryProjection:
    name = NAME
    version = VERSION

    def tables(self, version: int, metadata: MetaData) -> list[Table]:
        return [item_events_table(version, metadata)]

    async def apply(self, conn: AsyncConnection, version: int, events: Applied) -> None:
        rows = [
            {"key": key, "position": position}
            for position, event in events
            for key in touched_keys(event)
        ]
        if rows:
            await conn.execute(insert_ignore(conn, item_events_table(version, MetaData())), rows)

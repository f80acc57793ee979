"""The `history` projection: which events touched which item, for item histories."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import Column, MetaData, String, Table

from adapters.store import Lookup, Slot, TableWrite
from adapters.store.rows import Row
from adapters.store.types import Position
from domain.events import DomainEvent
from domain.fold import touched_keys
from projections.projection import Chunk, Folded, ReadRows, tables_of

NAME: Final = "history"
VERSION: Final = 1

LINK_COLUMNS: Final = ("key", "position")


def define(slot: Slot, metadata: MetaData) -> list[Table]:
    return [
        Table(
            slot.table("item_events"),
            metadata,
            Column("key", String(64), primary_key=True),
            Column("position", Position, primary_key=True),
        )
    ]


tables = tables_of(define)


def links_table(slot: Slot) -> Table:
    return tables(slot)[0]


class HistoryProjection:
    name = NAME
    version = VERSION
    only_added = True
    looks_up = 0

    def tables(self, slot: Slot) -> list[Table]:
        return tables(slot)

    def lookups(self, slot: Slot, events: Sequence[Any]) -> list[Lookup]:
        return []

    def fold(
        self, slot: Slot, rows: Sequence[Sequence[Row]], appended: Sequence[Any], *, fresh: bool
    ) -> Folded:
        links = [
            (key, position)
            for position, event in appended
            if isinstance(event, DomainEvent)
            for key in touched_keys(event)
        ]
        return Folded(
            [event for _, event in appended], [TableWrite(links_table(slot), LINK_COLUMNS, links)]
        )

    def builder(self, slot: Slot, position: int) -> HistoryBuilder:
        return HistoryBuilder(slot, position)


class HistoryBuilder:
    """(item, position) links, all of them new rows."""

    name = NAME

    def __init__(self, slot: Slot, position: int) -> None:
        self.slot = slot
        self.position = position

    async def stage(self, chunk: Chunk, read: ReadRows) -> list[TableWrite]:
        indexes = chunk.after(self.position)
        events, keys = chunk.events, chunk.keys
        links = [(key, events[index][0]) for index in indexes for key in keys[index]]
        self.position = chunk.last
        return [TableWrite(links_table(self.slot), LINK_COLUMNS, links)]

"""Projections whose rows each event gives on its own and that only ever add
rows (the history's links, the counts): one table, no state to read, and the
same rows whether an event is folded live or in a rebuild."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table

from adapters.store import Lookup, Row, Slot, TableWrite
from domain.events import DomainEvent
from domain.fold import touched_keys
from projections.projection import Chunk, Folded, ReadRows
from projections.reading import EVERY, Wanted

Rows = Callable[[Sequence[tuple[int, Any]], Sequence[tuple[str, ...]]], list[Row]]
"""The rows some events add, given (position, event) pairs and the keys of the
items each one touches (in a rebuild, only those of its part)."""


class AddedRows:
    only_added = True
    looks_up = 0

    def __init__(
        self,
        name: str,
        version: int,
        table: Callable[[Slot], Table],
        columns: tuple[str, ...],
        rows: Rows,
        reads: Wanted = EVERY,
    ) -> None:
        self.name = name
        self.version = version
        self.table = table
        self.columns = columns
        self.rows = rows
        self.reads = reads
        """The events whose rows it adds, for a rebuild (`Builder.reads`)."""

    def tables(self, slot: Slot) -> list[Table]:
        return [self.table(slot)]

    def lookups(self, slot: Slot, events: Sequence[Any]) -> list[Lookup]:
        return []

    def fold(
        self, slot: Slot, rows: Sequence[Sequence[Row]], appended: Sequence[Any], *, fresh: bool
    ) -> Folded:
        events = [(position, e) for position, e in appended if isinstance(e, DomainEvent)]
        added = self.rows(events, [touched_keys(event) for _, event in events])
        writes = [TableWrite(self.table(slot), self.columns, added)]
        return Folded([event for _, event in appended], writes)

    def builder(self, slot: Slot, position: int) -> AddedRowsBuilder:
        return AddedRowsBuilder(self, slot, position)


class AddedRowsBuilder:
    """Rebuilds an `AddedRows` projection: every row is new."""

    def __init__(self, projection: AddedRows, slot: Slot, position: int) -> None:
        self.projection = projection
        self.name = projection.name
        self.slot = slot
        self.position = position
        self.reads = projection.reads

    async def stage(self, chunk: Chunk, read: ReadRows) -> list[TableWrite]:
        start = chunk.after(self.position).start
        added = self.projection.rows(chunk.events[start:], chunk.keys[start:])
        self.position = chunk.last
        return [TableWrite(self.projection.table(self.slot), self.projection.columns, added)]

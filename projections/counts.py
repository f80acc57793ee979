"""The `counts` projection: every ServiceMobility count (RefModule 1004 full
count, 1005 partial count) with the balance it found, what was counted and the
variance, by technician and time."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

from sqlalchemy import Column, Index, MetaData, String, Table, Text

from adapters.store import Lookup, Slot, TableWrite
from adapters.store.rows import Row
from adapters.store.types import Position, UtcDateTime
from domain.events import StockUsageRecorded
from domain.quantities import decimal_text
from domain.sm_rules import is_count, resource_key
from projections.projection import Chunk, Folded, ReadRows, tables_of

NAME: Final = "counts"
VERSION: Final = 1

COUNT_COLUMNS: Final = (
    "position",
    "occurred_at",
    "location",
    "product",
    "serial",
    "batch",
    "ref_module",
    "ref_object",
    "user_id",
    "expected",
    "counted",
    "variance",
    "key",
)
"""The counts table's columns, in the order of `row_of` and of the API's count."""


def define(slot: Slot, metadata: MetaData) -> list[Table]:
    name = slot.table("counts")
    return [
        Table(
            name,
            metadata,
            Column("position", Position, primary_key=True, autoincrement=False),
            Column("occurred_at", UtcDateTime, nullable=False),
            Column("location", Text, nullable=False),
            Column("product", Text, nullable=False),
            Column("serial", Text),
            Column("batch", Text),
            Column("ref_module", String(8), nullable=False),
            Column("ref_object", Text, nullable=False),
            Column("user_id", Text),
            Column("expected", Text),
            Column("counted", Text, nullable=False),
            Column("variance", Text),
            Column("key", String(64), nullable=False),
            Index(f"{name}_location", "location", "position"),
            Index(f"{name}_time", "occurred_at", "position"),
        )
    ]


tables = tables_of(define)


def counts_table(slot: Slot) -> Table:
    return tables(slot)[0]


def row_of(position: int, line: StockUsageRecorded) -> Row:
    return (
        position,
        line.occurred_at,
        line.location,
        line.product,
        line.serial,
        line.batch,
        line.ref_module,
        line.ref_object,
        line.user,
        None if line.expected is None else decimal_text(line.expected),
        decimal_text(line.reported_quantity),
        None if line.variance is None else decimal_text(line.variance),
        resource_key(line),
    )


def rows_of(events: Iterable[tuple[int, Any]]) -> list[Row]:
    return [
        row_of(position, event)
        for position, event in events
        if isinstance(event, StockUsageRecorded) and is_count(event)
    ]


class CountsProjection:
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
        writes = [TableWrite(counts_table(slot), COUNT_COLUMNS, rows_of(appended))]
        return Folded([event for _, event in appended], writes)

    def builder(self, slot: Slot, position: int) -> CountsBuilder:
        return CountsBuilder(slot, position)


class CountsBuilder:
    name = NAME

    def __init__(self, slot: Slot, position: int) -> None:
        self.slot = slot
        self.position = position

    async def stage(self, chunk: Chunk, read: ReadRows) -> list[TableWrite]:
        indexes = chunk.after(self.position)
        # A count belongs to the part that holds its stock line.
        rows = [
            row
            for index in indexes
            for row in rows_of((chunk.events[index],))
            if row[-1] in chunk.keys[index]
        ]
        self.position = chunk.last
        return [TableWrite(counts_table(self.slot), COUNT_COLUMNS, rows)]

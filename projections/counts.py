"""The `counts` projection: every ServiceMobility count (RefModule 1004 full
count, 1005 partial count) with the balance it found, what was counted and the
variance, by technician and time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import Column, Index, MetaData, String, Table, Text

from adapters.store import Slot
from adapters.store.rows import Row
from adapters.store.types import Position, UtcDateTime
from domain.events import StockUsageRecorded
from domain.quantities import decimal_text
from domain.sm_rules import is_count, resource_key
from projections.added import AddedRows

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


def rows_of(events: Sequence[tuple[int, Any]], keys: Sequence[tuple[str, ...]]) -> list[Row]:
    """A row for every count, when its stock line is among the keys."""
    return [
        row_of(position, event)
        for (position, event), touched in zip(events, keys, strict=True)
        if isinstance(event, StockUsageRecorded)
        and is_count(event)
        and resource_key(event) in touched
    ]


COUNTS: Final = AddedRows(NAME, VERSION, define, COUNT_COLUMNS, rows_of)


def counts_table(slot: Slot) -> Table:
    return COUNTS.table(slot)

"""The `counts` projection: every ServiceMobility count (RefModule 1004 full
count, 1005 partial count) with the balance it found, what was counted and the
variance, by technician and time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from adapters.store import CountRecord, Row, projection_tables
from adapters.store.projection_tables import COUNT_COLUMNS, count_row, counts_table
from domain.events import StockUsageRecorded
from domain.quantities import decimal_text
from domain.sm_rules import is_count, resource_key
from projections.added import AddedRows
from projections.reading import Wanted, kinds_of

NAME: Final = projection_tables.COUNTS
VERSION: Final = 1


def record_of(position: int, line: StockUsageRecorded) -> CountRecord:
    return CountRecord(
        position=position,
        occurred_at=line.occurred_at,
        location=line.location,
        product=line.product,
        serial=line.serial,
        batch=line.batch,
        ref_module=line.ref_module,
        ref_object=line.ref_object,
        user_id=line.user,
        expected=None if line.expected is None else decimal_text(line.expected),
        counted=decimal_text(line.reported_quantity),
        variance=None if line.variance is None else decimal_text(line.variance),
        key=resource_key(line),
    )


def rows_of(events: Sequence[tuple[int, Any]], keys: Sequence[tuple[str, ...]]) -> list[Row]:
    """A row for every count, when its stock line is among the keys."""
    return [
        count_row(record_of(position, event))
        for (position, event), touched in zip(events, keys, strict=True)
        if isinstance(event, StockUsageRecorded)
        and is_count(event)
        and resource_key(event) in touched
    ]


COUNTS: Final = AddedRows(
    NAME, VERSION, counts_table, COUNT_COLUMNS, rows_of, Wanted(kinds_of(StockUsageRecorded))
)

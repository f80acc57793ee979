"""Rows a batch reads and writes, described as data: the backends turn them into
set-based statements whose text depends on the tables, never on the row count.

The live projections speak to the store in these terms (`LiveProjection`):
before a batch they name the rows they need to read (`Lookup`), after the
store has decided what is new they fold it and hand back the rows to write
(`TableWrite`). Everything lands in the one transaction of the batch.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from sqlalchemy import Table

from adapters.store.records import NewEvent, Slot

WriteMode = Literal["insert", "ignore", "upsert", "add", "update"]
"""`insert` new rows; `ignore` rows whose key is stored already; `upsert`
(insert or replace the other columns); `add` (insert, or add the other
columns to the stored ones); `update` rows that exist."""

Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class TableWrite:
    """Rows for one table, in the order of `columns`. `keys` are the columns
    that identify a row for `ignore`, `upsert` and `update` (the primary key
    when empty)."""

    table: Table
    columns: tuple[str, ...]
    rows: Sequence[Row]
    mode: WriteMode = "insert"
    keys: tuple[str, ...] = ()

    def key_columns(self) -> tuple[str, ...]:
        return self.keys or tuple(column.name for column in self.table.primary_key.columns)


@dataclass(frozen=True, slots=True)
class Lookup:
    """The rows of `table` whose `key` column holds one of `keys`, as tuples of
    `columns`."""

    table: Table
    key: str
    columns: tuple[str, ...]
    keys: Collection[str]


@dataclass(slots=True)
class Projected:
    """What the live projections made of a batch: the events' data as it is to
    be stored (a count annotated with the balance it replaced, say), the rows
    to write, the projections that folded it (their checkpoints move), and the
    change feed's new entries, in event order (the decision gives them their
    positions)."""

    events: list[Any]
    writes: list[TableWrite] = field(default_factory=list)
    folded: list[str] = field(default_factory=list)
    entries: list[Any] = field(default_factory=list)
    """`adapters.store.feed.FeedDraft`s."""


class LiveProjection(Protocol):
    """The live projections, as the store sees them."""

    def lookups(self, slots: Mapping[str, Slot], events: Sequence[Any]) -> list[Lookup]:
        """What to read for a batch of these events (its new ones are among them)."""
        ...

    def follow_ups(
        self, slots: Mapping[str, Slot], found: Sequence[Sequence[Row]], events: Sequence[Any]
    ) -> list[Lookup]:
        """What to read next, once `lookups` have found their rows: rows that
        only those rows name (empty when nothing more is needed). Their rows
        come to `fold` after the others."""
        ...

    def fold(
        self,
        slots: Mapping[str, Slot],
        found: Sequence[Sequence[Row]],
        appended: Sequence[tuple[int, NewEvent]],
        fresh: bool,
    ) -> Projected:
        """Fold the batch's new events (with their positions, in store order)
        into the active slots, given the rows the lookups found. `fresh`
        events are new facts (from deliveries), which a projection may
        annotate; the others are stored as they are given."""
        ...

"""The `history` projection: which events touched which item, for item histories."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import Column, MetaData, String, Table

from adapters.store import Slot
from adapters.store.rows import Row
from adapters.store.types import Position
from projections.added import AddedRows

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


def links(events: Sequence[tuple[int, Any]], keys: Sequence[tuple[str, ...]]) -> list[Row]:
    """An (item, position) link for every item an event touches."""
    return [
        (key, position)
        for (position, _), touched in zip(events, keys, strict=True)
        for key in touched
    ]


HISTORY: Final = AddedRows(NAME, VERSION, define, LINK_COLUMNS, links)


def links_table(slot: Slot) -> Table:
    return HISTORY.table(slot)

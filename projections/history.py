"""The `history` projection: which events touched which item, for item histories."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from adapters.store import Row, projection_tables
from adapters.store.projection_tables import LINK_COLUMNS, links_table
from projections.added import AddedRows

NAME: Final = projection_tables.HISTORY
VERSION: Final = 1


def links(events: Sequence[tuple[int, Any]], keys: Sequence[tuple[str, ...]]) -> list[Row]:
    """An (item, position) link for every item an event touches."""
    return [
        (key, position)
        for (position, _), touched in zip(events, keys, strict=True)
        for key in touched
    ]


HISTORY: Final = AddedRows(NAME, VERSION, links_table, LINK_COLUMNS, links)

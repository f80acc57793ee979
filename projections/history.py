"""The `history` projection: which events touched which item, for item histories."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from adapters.store import Row, projection_tables
from adapters.store.projection_tables import LINK_COLUMNS, links_table
from domain.fold import KEYED_EVENTS
from projections.added import AddedRows
from projections.reading import Wanted, kinds_of

NAME: Final = projection_tables.HISTORY
VERSION: Final = 1


def links(events: Sequence[tuple[int, Any]], keys: Sequence[tuple[str, ...]]) -> list[Row]:
    """An (item, position) link for every item an event touches (the events
    themselves are not read: in a rebuild they may not be decoded)."""
    return [
        (key, position)
        for (position, _), touched in zip(events, keys, strict=True)
        for key in touched
    ]


HISTORY: Final = AddedRows(
    NAME,
    VERSION,
    links_table,
    LINK_COLUMNS,
    links,
    # The positions and keys are all it needs: a rebuild of the history alone
    # decodes only events stored without their keys.
    Wanted(kinds_of(*KEYED_EVENTS), decoded=False),
)

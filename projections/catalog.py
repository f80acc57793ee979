"""The projections this build of invtrack maintains."""

from __future__ import annotations

from projections.base import Projection
from projections.history import HistoryProjection
from projections.items import ItemsProjection

ITEMS = ItemsProjection()
HISTORY = HistoryProjection()
PROJECTIONS: tuple[Projection, ...] = (ITEMS, HISTORY)


def by_name(names: list[str] | None = None) -> list[Projection]:
    """The named projections (all when no name is given); unknown names raise."""
    if not names:
        return list(PROJECTIONS)
    known = {projection.name: projection for projection in PROJECTIONS}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise KeyError(f"unknown projection(s): {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[name] for name in names]

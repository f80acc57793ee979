"""The projections this build of invtrack maintains, in the order they fold."""

from __future__ import annotations

from projections.counts import COUNTS
from projections.history import HISTORY
from projections.items import ItemsProjection
from projections.projection import Projection

ITEMS = ItemsProjection()
PROJECTIONS: tuple[Projection, ...] = (ITEMS, HISTORY, COUNTS)
__all__ = ["COUNTS", "HISTORY", "ITEMS", "PROJECTIONS", "by_name"]
"""Items first: it annotates counts with the balance they replaced."""


def by_name(names: list[str] | None = None) -> list[Projection]:
    """The named projections (all when no name is given); unknown names raise."""
    if not names:
        return list(PROJECTIONS)
    known = {projection.name: projection for projection in PROJECTIONS}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise KeyError(f"unknown projection(s): {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[name] for name in names]

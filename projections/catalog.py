"""The projections this build of invtrack maintains, in the order they fold."""

from __future__ import annotations

from projections.counts import COUNTS
from projections.history import HISTORY
from projections.items import ItemsProjection
from projections.projection import Projection
from projections.signals import SignalsProjection

ITEMS = ItemsProjection()
SIGNALS = SignalsProjection()
PROJECTIONS: tuple[Projection, ...] = (ITEMS, HISTORY, COUNTS, SIGNALS)
__all__ = ["COUNTS", "HISTORY", "ITEMS", "PROJECTIONS", "SIGNALS", "by_name"]
"""Items first: it annotates counts with the balance they replaced; the signals
fold item changes from the items it found."""


def by_name(names: list[str] | None = None) -> list[Projection]:
    """The named projections (all when no name is given); unknown names raise."""
    if not names:
        return list(PROJECTIONS)
    known = {projection.name: projection for projection in PROJECTIONS}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise KeyError(f"unknown projection(s): {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[name] for name in names]

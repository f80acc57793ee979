"""What makes a generated history worth replaying: several items, several
owners (also one item passing between owners), events that arrive after a
later one of their item, both sources at once. Properties report these as
`hypothesis.event`s (see `--hypothesis-show-statistics`), and a coverage test
checks that their strategies reach each shape often.

Written apart from the production code: an item is its OFS inventoryId or its
stock line's (location, product, serial, batch), an owner the resource an
event names."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from itertools import pairwise
from typing import Final

from domain.events import DomainEvent, OfsInventoryEvent, StockUsageRecorded

SEVERAL_ITEMS: Final = "three or more items"
SEVERAL_OWNERS: Final = "two or more owners"
ITEM_CHANGES_OWNER: Final = "an item with two or more owners"
LATE_EVENT: Final = "an event stored after a later one of its item"
BOTH_SOURCES: Final = "both sources"
SHAPES: Final = (SEVERAL_ITEMS, SEVERAL_OWNERS, ITEM_CHANGES_OWNER, LATE_EVENT, BOTH_SOURCES)

Identity = tuple[str, ...]


def _identity(event: DomainEvent) -> tuple[Identity, tuple[str, ...]] | None:
    """The item an event is about and the owners it names, or None for an
    event that moves no item (a document, another OFS event)."""
    if isinstance(event, StockUsageRecorded):
        identity = ("sm", event.location, event.product, event.serial or "", event.batch or "")
        return identity, (event.location,)
    if isinstance(event, OfsInventoryEvent):
        activity = event.activity
        named = (event.changes.resource_id, activity.resource_id if activity else None)
        return ("ofs", str(event.inventory_id)), tuple(owner for owner in named if owner)
    return None


def shapes(events: Iterable[DomainEvent]) -> set[str]:
    """The shapes of a history, its events in store order."""
    times: dict[Identity, list[datetime]] = defaultdict(list)
    owners: dict[Identity, set[str]] = defaultdict(set)
    for event in events:
        found = _identity(event)
        if found is None:
            continue
        identity, named = found
        times[identity].append(event.occurred_at)
        owners[identity].update(named)
    found_shapes: set[str] = set()
    if len(times) >= 3:
        found_shapes.add(SEVERAL_ITEMS)
    if len(set().union(*owners.values())) >= 2:
        found_shapes.add(SEVERAL_OWNERS)
    if any(len(named) >= 2 for named in owners.values()):
        found_shapes.add(ITEM_CHANGES_OWNER)
    if any(any(b < a for a, b in pairwise(t)) for t in times.values()):
        found_shapes.add(LATE_EVENT)
    if {identity[0] for identity in times} == {"sm", "ofs"}:
        found_shapes.add(BOTH_SOURCES)
    return found_shapes

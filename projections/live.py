"""The live projections: every batch the store commits is folded into the
active slot of each projection in the same transaction, so a query right after
a 200 sees it. This is the store's `LiveProjection`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from adapters.store import Lookup, NewEvent, Projected, Row, Slot
from adapters.store.changes import item_entries, message_of
from adapters.store.feed import FeedDraft
from domain.events import DomainEvent
from projections.catalog import ITEMS, PROJECTIONS
from projections.projection import Projection
from projections.reading import decoder

_decode = decoder()


class LiveProjector:
    """Folds a batch into each active projection, in catalog order: the items
    fold annotates counts with the balance they replaced, and the projections
    after it see the annotated events."""

    def __init__(self, projections: Sequence[Projection] = PROJECTIONS) -> None:
        self.projections = projections

    def lookups(self, slots: Mapping[str, Slot], events: Sequence[Any]) -> list[Lookup]:
        found: list[Lookup] = []
        for projection, slot in self._active(slots):
            found += projection.lookups(slot, events)
        return found

    def follow_ups(
        self, slots: Mapping[str, Slot], found: Sequence[Sequence[Row]], events: Sequence[Any]
    ) -> list[Lookup]:
        """The follow-up lookups of the projections that have some, in catalog
        order, each given the rows its own lookups found."""
        more: list[Lookup] = []
        items = _items_rows(self._active(slots), found)
        for projection, slot in self._active(slots):
            if getattr(projection, "follows_up", 0):
                more += projection.follow_ups(slot, items, events)  # type: ignore[attr-defined]
        return more

    def fold(
        self,
        slots: Mapping[str, Slot],
        found: Sequence[Sequence[Row]],
        appended: Sequence[tuple[int, NewEvent]],
        fresh: bool,
    ) -> Projected:
        decoded = [_domain(event) for _, event in appended]
        events = list(decoded)
        result = Projected(events=[])
        active = self._active(slots)
        first = sum(projection.looks_up for projection, _ in active)
        rows = iter(found[:first])
        later = iter(found[first:])
        changes: Sequence[Any] = ()
        entries: list[list[FeedDraft]] = []
        for projection, slot in active:
            mine = [next(rows) for _ in range(projection.looks_up)]
            positions = [position for position, _ in appended]
            numbered = list(zip(positions, events, strict=True))
            follows = getattr(projection, "follows_up", 0)
            if follows:
                mine += [next(later) for _ in range(follows)]
                folded = projection.fold(slot, mine, numbered, fresh=fresh, changes=changes)  # type: ignore[call-arg]
            else:
                folded = projection.fold(slot, mine, numbered, fresh=fresh)
            if projection.name == ITEMS.name:
                changes = folded.changes
            events = folded.events
            result.writes += folded.writes
            result.folded.append(projection.name)
            entries.append(_entries(folded.changes, folded.entries, appended))
        result.entries = _in_event_order(entries)
        # An event is stored as it came unless a fold annotated it.
        result.events = [
            new.data if event is before else event
            for event, before, (_, new) in zip(events, decoded, appended, strict=True)
        ]
        return result

    def _active(self, slots: Mapping[str, Slot]) -> list[tuple[Projection, Slot]]:
        return [(p, slots[p.name]) for p in self.projections if p.name in slots]


def _items_rows(
    active: Sequence[tuple[Projection, Slot]], found: Sequence[Sequence[Row]]
) -> Sequence[Row]:
    """The stored items the batch touches, as the items projection's lookup
    found them (what a projection's follow-ups are read from)."""
    start = 0
    for projection, _ in active:
        if projection.name == ITEMS.name:
            return found[start] if projection.looks_up else ()
        start += projection.looks_up
    return ()


def _entries(
    changes: Sequence[Any], own: Sequence[FeedDraft], appended: Sequence[tuple[int, NewEvent]]
) -> list[FeedDraft]:
    """A fold's feed entries: its item changes, each naming its event's
    message, and the entries it made itself."""
    if not changes:
        return list(own)
    messages = {position: message_of(event.metadata) for position, event in appended}
    return [*item_entries(changes, messages), *own]


def _in_event_order(entries: list[list[FeedDraft]]) -> list[FeedDraft]:
    """Every fold's entries by the event that caused them; the entries of one
    event in catalog order (the items' changes first), each fold's in its own."""
    merged = [entry for folded in entries for entry in folded]
    if len(entries) > 1:
        merged.sort(key=lambda entry: entry.event_position)  # stable
    return merged


def _domain(event: NewEvent) -> Any:
    """The domain event an appended event holds, or its data when it is none."""
    if isinstance(event.data, DomainEvent):
        return event.data
    if isinstance(event.data, dict):
        decoded = _decode(
            event.type, event.schema_version, msgspec.json.encode(event.data).decode()
        )
        if decoded is not None:
            return decoded
    return event.data

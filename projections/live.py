"""The live projections: every batch the store commits is folded into the
active slot of each projection in the same transaction, so a query right after
a 200 sees it. This is the store's `LiveProjection`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from adapters.store import Lookup, NewEvent, Projected, Row, Slot
from domain.events import DomainEvent
from projections.catalog import PROJECTIONS
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
        rows = iter(found)
        for projection, slot in self._active(slots):
            mine = [next(rows) for _ in range(projection.looks_up)]
            positions = [position for position, _ in appended]
            folded = projection.fold(
                slot, mine, list(zip(positions, events, strict=True)), fresh=fresh
            )
            events = folded.events
            result.writes += folded.writes
            result.folded.append(projection.name)
        # An event is stored as it came unless a fold annotated it.
        result.events = [
            new.data if event is before else event
            for event, before, (_, new) in zip(events, decoded, appended, strict=True)
        ]
        return result

    def _active(self, slots: Mapping[str, Slot]) -> list[tuple[Projection, Slot]]:
        return [(p, slots[p.name]) for p in self.projections if p.name in slots]


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

"""The live projection: events appended and projected in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.store import NewEvent, StoredEvent, Writer
from domain.events import SCHEMA_VERSION, DomainEvent, Fact, event_type, to_data
from domain.fold import annotate, stream_of, touched_keys
from domain.fold import apply as fold_apply
from projections.base import Projection, active_versions, checkpoint
from projections.catalog import ITEMS, PROJECTIONS


class LiveProjector:
    """Appends facts and folds them into every active projection, in the
    caller's transaction, so a query right after the commit sees them."""

    def __init__(self, projections: Sequence[Projection] = PROJECTIONS) -> None:
        self.projections = projections

    async def record(
        self,
        writer: Writer,
        facts: Sequence[Fact],
        *,
        inbox_id: int | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> list[StoredEvent]:
        """Append the facts not seen before and project them; returns what was stored."""
        seen = await writer.known(fact.dedupe_key for fact in facts)
        fresh: list[Fact] = []
        for fact in facts:
            if fact.dedupe_key not in seen:
                seen.add(fact.dedupe_key)
                fresh.append(fact)
        if not fresh:
            return []
        conn = writer.conn
        active = await active_versions(conn)
        events = await self._annotated(writer, active.get(ITEMS.name), fresh)
        stored = await writer.append(
            [
                _new_event(fact, event, metadata or {})
                for fact, event in zip(fresh, events, strict=True)
            ],
            inbox_id=inbox_id,
        )
        applied = [(s.position, event) for s, event in zip(stored, events, strict=True)]
        for projection in self.projections:
            version = active.get(projection.name)
            if version is not None:
                await projection.apply(conn, version, applied)
                await checkpoint(conn, projection.name, version, applied[-1][0])
        return stored

    async def _annotated(
        self, writer: Writer, items_version: int | None, facts: list[Fact]
    ) -> list[DomainEvent]:
        """The events with what only the current state tells (a count's variance)."""
        keys = {key for fact in facts for key in touched_keys(fact.event)}
        state = await ITEMS.load(writer.conn, items_version, keys) if items_version else {}
        events: list[DomainEvent] = []
        for fact in facts:
            event = annotate(state, fact.event)
            for item in fold_apply(state, event, 0):
                state[item.key] = item
            events.append(event)
        return events


def _new_event(fact: Fact, event: DomainEvent, metadata: dict[str, Any]) -> NewEvent:
    return NewEvent(
        stream_id=stream_of(event),
        type=event_type(event),
        schema_version=SCHEMA_VERSION,
        data=to_data(event),
        occurred_at=event.occurred_at,
        dedupe_key=fact.dedupe_key,
        metadata=metadata,
    )

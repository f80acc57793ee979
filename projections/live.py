"""The live projection: events appended and projected in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from adapters.store import NewEvent, StoredEvent, Writer
from domain.events import DomainEvent, Fact, event_type, to_data
from domain.fold import annotate, annotated_keys, stream_of
from domain.fold import apply as fold_apply
from domain.upcasters import current_version
from projections.base import Projection, Slot, active_versions, checkpoint
from projections.catalog import ITEMS, PROJECTIONS


class Batch(msgspec.Struct, frozen=True, kw_only=True):
    """The facts of one delivery, with the inbox row and metadata they came with."""

    facts: Sequence[Fact]
    inbox_id: int | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)


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
        batch = Batch(facts=facts, inbox_id=inbox_id, metadata=metadata or {})
        return (await self.record_many(writer, [batch]))[0]

    async def record_many(
        self, writer: Writer, batches: Sequence[Batch]
    ) -> list[list[StoredEvent]]:
        """Like `record` for several deliveries at once, in order, with a fixed
        number of statements whatever their count. A fact seen before (in the
        store or earlier in `batches`) is skipped."""
        seen = await writer.known(fact.dedupe_key for batch in batches for fact in batch.facts)
        fresh: list[tuple[int, Fact]] = []
        for index, batch in enumerate(batches):
            for fact in batch.facts:
                if fact.dedupe_key not in seen:
                    seen.add(fact.dedupe_key)
                    fresh.append((index, fact))
        stored_by_batch: list[list[StoredEvent]] = [[] for _ in batches]
        if not fresh:
            return stored_by_batch
        conn = writer.conn
        active = await active_versions(conn)
        events = await self._annotated(writer, active.get(ITEMS.name), [f for _, f in fresh])
        stored = await writer.append(
            [
                _new_event(fact, event, batches[index])
                for (index, fact), event in zip(fresh, events, strict=True)
            ],
            unseen=True,
        )
        applied = [(s.position, event) for s, event in zip(stored, events, strict=True)]
        for projection in self.projections:
            version = active.get(projection.name)
            if version is not None:
                await projection.apply(conn, version, applied)
                await checkpoint(conn, projection.name, version, applied[-1][0])
        for (index, _), event in zip(fresh, stored, strict=True):
            stored_by_batch[index].append(event)
        return stored_by_batch

    async def _annotated(
        self, writer: Writer, items_slot: Slot | None, facts: list[Fact]
    ) -> list[DomainEvent]:
        """The events with what only the current state tells (a count's variance)."""
        counted = {key for fact in facts for key in annotated_keys(fact.event)}
        if not counted:
            return [fact.event for fact in facts]
        state = await ITEMS.load(writer.conn, items_slot, counted) if items_slot else {}
        events: list[DomainEvent] = []
        for fact in facts:
            event = annotate(state, fact.event)
            # Only the counted keys were loaded; the others are folded from
            # nothing, which is harmless because nothing reads them here.
            for item in fold_apply(state, event, 0):
                state[item.key] = item
            events.append(event)
        return events


def _new_event(fact: Fact, event: DomainEvent, batch: Batch) -> NewEvent:
    kind = event_type(event)
    return NewEvent(
        stream_id=stream_of(event),
        type=kind,
        schema_version=current_version(kind),
        data=to_data(event),
        occurred_at=event.occurred_at,
        dedupe_key=fact.dedupe_key,
        metadata=batch.metadata,
        inbox_id=batch.inbox_id,
    )

"""One batch of deliveries: what to read before deciding, and what to write.

Pure: the backends read what `Batch` asks for while they hold the append lock,
hand it back as `Found`, and write the `Decision`. So both backends decide
alike, in one place:

- a payload whose (source, message id) was accepted before, in the store or
  earlier in the batch, is a duplicate and appends nothing;
- a fact whose dedupe key is stored, or came earlier in the batch, is skipped;
- a ServiceMobility row version counts with the first content it came with:
  lines of the same version with other content are refused and the conflict
  recorded (adapters.store.row_versions);
- a payload that cannot be read is kept once per content: a repeat raises
  the kept copy's count (adapters.store.quarantine);
- positions and stream versions follow the store's head in batch order (the
  append lock makes them final), and a stale expected version fails the batch;
- the live projections fold the new events with their positions and their
  rows and checkpoints are written in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

from adapters.store import quarantine, row_versions
from adapters.store.plan import Plan, utc
from adapters.store.quarantine import Quarantine
from adapters.store.records import (
    Delivery,
    NewEvent,
    Receipt,
    StoredEvent,
)
from adapters.store.registry import Slot
from adapters.store.row_versions import RowVersions
from adapters.store.rows import LiveProjection, Lookup, Projected, Row, TableWrite
from domain.fold import stream_of

_encode = msgspec.json.encode


@dataclass(slots=True)
class Found:
    """What the store holds that a batch's decisions depend on, read under the
    append lock."""

    head: int = 0
    inbox_head: int = 0
    accepted: dict[tuple[str, str], int] = field(default_factory=dict)
    """(source, message id) of accepted payloads among the batch's -> inbox id."""
    known: set[str] = field(default_factory=set)
    """The batch's dedupe keys that are stored."""
    streams: dict[str, int] = field(default_factory=dict)
    """The batch's streams that exist -> their version."""
    statuses: dict[int, str] = field(default_factory=dict)
    """Status of each payload the batch replays."""
    slots: dict[str, Slot] = field(default_factory=dict)
    """The active slot of each projection."""
    rows: list[list[Row]] = field(default_factory=list)
    """The rows each lookup found: the batch's own (row versions, kept
    payloads), then the live projections'."""


@dataclass(slots=True)
class Decision:
    """What a batch does: an answer per delivery, the rows to write, and the
    events it appends as (position, stream version, event, data to store)."""

    receipts: list[Receipt]
    writes: list[TableWrite]
    placed: list[tuple[int, int, NewEvent, Any]]
    recorded_at: datetime

    def appended(self) -> list[StoredEvent]:
        """The new events as they will read back."""
        return [
            _stored(position, version, event, data, self.recorded_at)
            for position, version, event, data in self.placed
        ]


class NoLiveProjections(RuntimeError):
    """Events cannot be appended while projections are active unless the store
    projects them: they would never reach those projections."""


class Batch:
    """Deliveries (and plain events) committed in one transaction, in order."""

    def __init__(
        self, deliveries: Sequence[Delivery] = (), events: Sequence[NewEvent] = ()
    ) -> None:
        self.deliveries = deliveries
        self.events = events
        self.digests = {
            n: quarantine.body_sha256(delivery.inbox.body)
            for n, delivery in enumerate(deliveries)
            if delivery.inbox is not None
            and delivery.rejected is not None
            and delivery.replaying is None
        }
        """SHA-256 of the body of each payload that will be quarantined."""
        versions = {
            fact.row.version: None
            for delivery in deliveries
            for fact in delivery.facts
            if fact.row is not None
        }
        self.own = [
            row_versions.lookup(list(versions)),
            quarantine.lookup(list(dict.fromkeys(self.digests.values()))),
        ]
        """What deciding the batch reads beside the projections' rows."""

    def messages(self) -> list[tuple[str, str]]:
        """(source, message id) of every payload that may be accepted."""
        return list(
            {
                (delivery.inbox.source, delivery.inbox.message_id): None
                for delivery in self.deliveries
                if delivery.inbox is not None
                and delivery.inbox.message_id is not None
                and delivery.rejected is None
            }
        )

    def dedupe_keys(self) -> list[str]:
        keys = [fact.dedupe_key for delivery in self.deliveries for fact in delivery.facts]
        keys += [event.dedupe_key for event in self.events]
        return list(dict.fromkeys(keys))

    def stream_ids(self) -> list[str]:
        ids = [stream_of(fact.event) for delivery in self.deliveries for fact in delivery.facts]
        ids += [event.stream_id for event in self.events]
        return list(dict.fromkeys(ids))

    def replayed(self) -> list[int]:
        return [d.replaying for d in self.deliveries if d.replaying is not None]

    def event_data(self) -> list[Any]:
        """Every event the batch may append, for the projections' lookups."""
        found = [fact.event for delivery in self.deliveries for fact in delivery.facts]
        return found + [event.data for event in self.events]

    def lookups(self, projection: LiveProjection | None, slots: dict[str, Slot]) -> list[Lookup]:
        """The batch's own lookups, then the live projections'."""
        if projection is None or not slots:
            return list(self.own)
        return [*self.own, *projection.lookups(slots, self.event_data())]

    def decide(self, found: Found, projection: LiveProjection | None, now: datetime) -> Decision:
        versions, kept, *projected_rows = found.rows
        plan = Plan(found, now, RowVersions(versions, now), Quarantine(kept))
        receipts = [
            plan.receive(delivery, self.digests.get(n))
            for n, delivery in enumerate(self.deliveries)
        ]
        for event in self.events:
            plan.take(event)
        placed = plan.place()
        projected = _project(projection, found, projected_rows, placed, fresh=not self.events)
        writes = plan.writes(placed, projected)
        writes += projected.writes
        return Decision(
            receipts=receipts,
            writes=writes,
            placed=[
                (position, version, event, data)
                for (position, version, event), data in zip(placed, projected.events, strict=True)
            ],
            recorded_at=now,
        )


def _project(
    projection: LiveProjection | None,
    found: Found,
    rows: list[list[Row]],
    placed: list[tuple[int, int, NewEvent]],
    *,
    fresh: bool,
) -> Projected:
    data = [event.data for _, _, event in placed]
    if not placed or not found.slots:
        return Projected(events=data)
    if projection is None:
        raise NoLiveProjections("this store does not project; open it with the live projections")
    appended = [(position, event) for position, _, event in placed]
    return projection.fold(found.slots, rows, appended, fresh)


def _stored(position: int, version: int, event: NewEvent, data: Any, now: datetime) -> StoredEvent:
    return StoredEvent(
        position=position,
        stream_id=event.stream_id,
        version=version,
        type=event.type,
        schema_version=event.schema_version,
        data=msgspec.to_builtins(data),
        metadata=event.metadata,
        occurred_at=utc(event.occurred_at),
        recorded_at=now,
        dedupe_key=event.dedupe_key,
        inbox_id=event.inbox_id,
    )

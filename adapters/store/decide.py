"""Deciding one batch of deliveries: pure, the same for every backend.

A backend reads what `Batch` asks for while it holds the append lock, hands it
over as `Found`, writes the `Decision` and commits. The rules:

- a payload whose (source, message id) was accepted before, in the store or
  earlier in the batch, is a duplicate and appends nothing;
- a fact whose dedupe key is stored, or came earlier in the batch, is skipped;
- a ServiceMobility row version counts with the first content it came with:
  lines of the same version with other content are refused and the conflict
  recorded (adapters.store.row_versions);
- a payload that cannot be read is kept once per content: a repeat raises
  the kept copy's count (adapters.store.quarantine), as long as that copy is
  in quarantine;
- positions and stream versions follow the store's head in batch order (the
  append lock makes them final), and a stale expected version fails the batch;
- a replayed payload is settled once, from the status it has;
- the live projections fold the new events with their positions, and their
  rows and checkpoints are written in the same transaction;
- the feed entries the folds hand over (`Projected.entries`) follow the
  feed's head in event order, in the same transaction.

`Found.after(decision)` is the state a batch leaves: deciding a batch and
then the next one from that state is deciding both as one batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec

from adapters.store.errors import ConcurrencyConflict
from adapters.store.feed import feed_writes
from adapters.store.found import Batch, Decision, Found, Placed
from adapters.store.quarantine import Quarantine, content_of
from adapters.store.records import (
    Cursor,
    Delivery,
    InboxEntry,
    InboxStatus,
    NewEvent,
    Receipt,
    Slot,
)
from adapters.store.routing import routing_of, routing_text
from adapters.store.row_versions import RowVersions
from adapters.store.rows import LiveProjection, Projected, Row, TableWrite
from adapters.store.schema import (
    EVENT_COLUMNS,
    INBOX_COLUMNS,
    cursors,
    events,
    inbox,
    inbox_minutes,
    projections,
    streams,
)
from adapters.store.types import utc
from domain.events import Fact, event_type
from domain.fold import stream_of
from domain.upcasters import current_version

_encode = msgspec.json.encode


class NoLiveProjections(RuntimeError):
    """Events cannot be appended while projections are active unless the store
    projects them: they would never reach those projections."""


def decide(
    batch: Batch, found: Found, projection: LiveProjection | None, now: datetime
) -> Decision:
    """What the batch does, given what the store holds (`found`)."""
    versions, kept, *projected_rows = found.rows
    plan = _Plan(found, now, RowVersions(versions, now), Quarantine(kept))
    receipts = [
        plan.receive(delivery, batch.digests.get(n)) for n, delivery in enumerate(batch.deliveries)
    ]
    for event in batch.events:
        plan.take(event)
    placed = plan.place()
    projected = _project(projection, found.slots, projected_rows, placed, fresh=not batch.events)
    entries = projected.entries
    stored = _stored(placed, projected.events)
    return Decision(
        receipts=receipts,
        writes=plan.writes(stored, projected)
        + projected.writes
        + feed_writes(entries, found.feed_head, now),
        placed=stored,
        recorded_at=now,
        head=placed[-1][0] if placed else found.head,
        feed_head=found.feed_head + len(entries),
        inbox_head=plan.inbox_head,
        accepted=plan.accepted,
        known=plan.known,
        streams=plan.versions,
        statuses=plan.statuses,
    )


class _Plan:
    """The mutable state of deciding one batch (`found` is left as it is)."""

    def __init__(
        self, found: Found, now: datetime, rows: RowVersions, quarantine: Quarantine
    ) -> None:
        self.found = found
        self.now = now
        self.rows = rows
        self.quarantine = quarantine
        self.accepted = dict(found.accepted)
        self.known = set(found.known)
        self.statuses = dict(found.statuses)
        self.versions = dict(found.streams)
        self.inbox_head = found.inbox_head
        self.kept: list[Row] = []
        self.settled: list[Row] = []
        self.cursors: dict[str, Cursor] = {}
        self.pending: list[NewEvent] = []
        self.received = 0

    def receive(self, delivery: Delivery, sha256: str | None = None) -> Receipt:
        """What one delivery does; `sha256` is its body's when it is rejected."""
        if delivery.cursor is not None:
            self.cursors[delivery.cursor.name] = delivery.cursor
        entry = delivery.inbox
        if entry is None:
            return Receipt(inbox_id=None)
        if delivery.replaying is not None:
            return self._replay(delivery, entry, delivery.replaying)
        if delivery.rejected is not None:
            return self._quarantine(entry, delivery.rejected, sha256)
        message = (entry.source, entry.message_id)
        if entry.message_id is not None and message in self.accepted:
            return Receipt(inbox_id=None, duplicate=True, skipped=len(delivery.facts))
        inbox_id = self._keep(entry, "accepted", None)
        if entry.message_id is not None:
            self.accepted[(entry.source, entry.message_id)] = inbox_id
        return self._append(delivery, inbox_id)

    def _replay(self, delivery: Delivery, entry: InboxEntry, inbox_id: int) -> Receipt:
        if self.statuses.get(inbox_id) != "quarantined":
            return Receipt(inbox_id=inbox_id, settled=False)
        if delivery.rejected is not None:
            self._settle(inbox_id, "quarantined", entry.message_id, delivery.rejected)
            return Receipt(inbox_id=inbox_id, quarantined=True)
        message = (entry.source, entry.message_id or "")
        if message in self.accepted:
            reason = f"accepted as {self.accepted[message]}"
            self._settle(inbox_id, "duplicate", entry.message_id, reason)
            return Receipt(inbox_id=inbox_id, duplicate=True, skipped=len(delivery.facts))
        self._settle(inbox_id, "accepted", entry.message_id, None)
        if entry.message_id is not None:
            self.accepted[message] = inbox_id
        return self._append(delivery, inbox_id)

    def _quarantine(self, entry: InboxEntry, reason: str, sha256: str | None) -> Receipt:
        """Kept with the reason, once per content: a repeat raises the count."""
        key = content_of(entry, sha256 or "")
        if sha256 is not None:
            kept = self.quarantine.repeat(key, entry.received_at)
            if kept is not None:
                self.received += 1
                return Receipt(inbox_id=kept, quarantined=True, repeated=True)
        inbox_id = self._keep(entry, "quarantined", reason, sha256)
        if sha256 is not None:
            self.quarantine.keep(key, inbox_id)
        return Receipt(inbox_id=inbox_id, quarantined=True)

    def _append(self, delivery: Delivery, inbox_id: int) -> Receipt:
        """The delivery's new facts; the lines of a row whose version counts
        with other content are refused (a conflict)."""
        appended = refused = 0
        conflicts: set[str] = set()
        for fact in delivery.facts:
            if fact.row is not None and not self.rows.admit(fact.row, inbox_id):
                conflicts.add(fact.row.identity)
                refused += 1
            elif fact.dedupe_key not in self.known:
                self.known.add(fact.dedupe_key)
                self.pending.append(_new_event(fact, delivery.metadata, inbox_id))
                appended += 1
        return Receipt(
            inbox_id=inbox_id,
            appended=appended,
            skipped=len(delivery.facts) - appended - refused,
            conflicts=len(conflicts),
        )

    def take(self, event: NewEvent) -> None:
        if event.dedupe_key not in self.known:
            self.known.add(event.dedupe_key)
            self.pending.append(event)

    def _keep(
        self, entry: InboxEntry, status: InboxStatus, reason: str | None, sha256: str | None = None
    ) -> int:
        self.inbox_head += 1
        self.received += 1
        self.kept.append(
            (
                self.inbox_head,
                entry.source,
                entry.kind,
                entry.message_id,
                entry.content_type,
                _encode(entry.headers).decode(),
                entry.body,
                entry.sender,
                utc(entry.received_at),
                status,
                reason,
                sha256,
                1,
                None,
            )
        )
        return self.inbox_head

    def _settle(
        self, inbox_id: int, status: InboxStatus, message_id: str | None, reason: str | None
    ) -> None:
        self.statuses[inbox_id] = status
        self.settled.append((inbox_id, status, message_id, reason))
        if status != "quarantined":
            # Out of quarantine: a payload with its content is kept anew.
            self.quarantine.forget(inbox_id)

    def place(self) -> list[tuple[int, int, NewEvent]]:
        """(position, stream version, event) of every new event, in order."""
        versions = self.versions
        position = self.found.head
        placed: list[tuple[int, int, NewEvent]] = []
        for event in self.pending:
            current = versions.get(event.stream_id, 0)
            expected = event.expected_version
            if expected is not None and expected != current:
                raise ConcurrencyConflict(event.stream_id, expected, current)
            versions[event.stream_id] = current + 1
            position += 1
            placed.append((position, current + 1, event))
        return placed

    def writes(self, placed: list[Placed], projected: Projected) -> list[TableWrite]:
        return [
            TableWrite(inbox, INBOX_COLUMNS, _counted(self.kept, self.quarantine.new_counts())),
            *self.quarantine.writes(),
            *self.rows.writes(),
            TableWrite(
                inbox, ("id", "status", "message_id", "reason"), self.settled, mode="update"
            ),
            TableWrite(events, EVENT_COLUMNS, _event_rows(placed, self.now)),
            TableWrite(streams, ("stream_id", "version"), _last_versions(placed), mode="upsert"),
            TableWrite(
                cursors,
                ("name", "state", "updated_at"),
                [
                    (cursor.name, _encode(cursor.state).decode(), self.now)
                    for cursor in self.cursors.values()
                ],
                mode="upsert",
            ),
            TableWrite(
                projections,
                ("name", "version", "generation", "position", "updated_at"),
                _checkpoints(placed, projected.folded, self.found.slots, self.now),
                mode="update",
                keys=("name", "version", "generation"),
            ),
            TableWrite(
                inbox_minutes,
                ("minute", "received"),
                [(self.now.replace(second=0, microsecond=0), self.received)]
                if self.received
                else [],
                mode="add",
            ),
        ]


def _project(
    projection: LiveProjection | None,
    slots: dict[str, Slot],
    rows: list[list[Row]],
    placed: list[tuple[int, int, NewEvent]],
    *,
    fresh: bool,
) -> Projected:
    data = [event.data for _, _, event in placed]
    if not placed or not slots:
        return Projected(events=data)
    if projection is None:
        raise NoLiveProjections("this store does not project; open it with the live projections")
    appended = [(position, event) for position, _, event in placed]
    return projection.fold(slots, rows, appended, fresh)


def _new_event(fact: Fact, metadata: dict[str, Any], inbox_id: int) -> NewEvent:
    event = fact.event
    kind = event_type(event)
    return NewEvent(
        stream_id=stream_of(event),
        type=kind,
        data=event,
        occurred_at=event.occurred_at,
        dedupe_key=fact.dedupe_key,
        schema_version=current_version(kind),
        metadata=metadata,
        inbox_id=inbox_id,
    )


def _last_versions(placed: list[Placed]) -> list[Row]:
    versions = {each.event.stream_id: each.version for each in placed}
    return list(versions.items())


def _stored(placed: list[tuple[int, int, NewEvent]], data: list[Any]) -> list[Placed]:
    """The new events with the data to store (a fold may have annotated it)
    and the keys of the items that data touches."""
    return [
        Placed(position, version, event, body, routing_of(event.type, _shape(event, body), body))
        for (position, version, event), body in zip(placed, data, strict=True)
    ]


def _shape(event: NewEvent, body: Any) -> int:
    """The schema version of the data stored: data a projection rewrote
    (annotated) is in the current shape."""
    return event.schema_version if body is event.data else current_version(event.type)


def _counted(kept: list[Row], counts: dict[int, tuple[int, datetime]]) -> list[Row]:
    """The payloads kept, with the counts of those repeated in the batch."""
    if not counts:
        return kept
    first = kept[0][0]
    rows = list(kept)
    for inbox_id, (count, last) in counts.items():
        rows[inbox_id - first] = (*rows[inbox_id - first][:-2], count, utc(last))
    return rows


def _event_rows(placed: list[Placed], now: datetime) -> list[Row]:
    metadata: dict[int, str] = {}
    rows: list[Row] = []
    for position, version, event, body, routing in placed:
        encoded = metadata.get(id(event.metadata))
        if encoded is None:
            encoded = metadata[id(event.metadata)] = _encode(event.metadata).decode()
        rows.append(
            (
                position,
                event.stream_id,
                version,
                event.type,
                _shape(event, body),
                _encode(body).decode(),
                encoded,
                utc(event.occurred_at),
                now,
                event.dedupe_key,
                event.inbox_id,
                routing_text(routing),
            )
        )
    return rows


def _checkpoints(
    placed: list[Placed],
    folded: Sequence[str],
    slots: dict[str, Slot],
    now: datetime,
) -> list[Row]:
    if not placed:
        return []
    last = placed[-1].position
    return [
        (name, slots[name].version, slots[name].generation, last, now)
        for name in folded
        if name in slots
    ]

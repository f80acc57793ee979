"""Deciding one batch: which payloads are kept, which facts are new, their
positions and stream versions, and the rows of the store's own tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec

from adapters.store.errors import ConcurrencyConflict
from adapters.store.quarantine import Quarantine, content_of
from adapters.store.records import Cursor, Delivery, InboxEntry, InboxStatus, NewEvent, Receipt
from adapters.store.row_versions import RowVersions
from adapters.store.rows import Projected, Row, TableWrite
from adapters.store.schema import cursors, events, inbox, inbox_minutes, projections, streams
from domain.events import Fact, event_type
from domain.fold import stream_of
from domain.upcasters import current_version

if TYPE_CHECKING:
    from adapters.store.batch import Found

_encode = msgspec.json.encode

INBOX_COLUMNS = (
    "id",
    "source",
    "kind",
    "message_id",
    "content_type",
    "headers",
    "body",
    "sender",
    "received_at",
    "status",
    "reason",
    "sha256",
    "received_count",
    "last_received_at",
)
EVENT_COLUMNS = (
    "position",
    "stream_id",
    "version",
    "type",
    "schema_version",
    "data",
    "metadata",
    "occurred_at",
    "recorded_at",
    "dedupe_key",
    "inbox_id",
)


class Plan:
    """The mutable state of deciding one batch."""

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
        self.statuses[inbox_id] = "settled"
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

    def _kept_rows(self) -> list[Row]:
        """The payloads kept, with the counts of those repeated in the batch."""
        counts = self.quarantine.new_counts()
        if not counts:
            return self.kept
        first = self.kept[0][0]
        rows = list(self.kept)
        for inbox_id, (count, last) in counts.items():
            rows[inbox_id - first] = (*rows[inbox_id - first][:-2], count, utc(last))
        return rows

    def _settle(
        self, inbox_id: int, status: InboxStatus, message_id: str | None, reason: str | None
    ) -> None:
        self.settled.append((inbox_id, status, message_id, reason))

    def place(self) -> list[tuple[int, int, NewEvent]]:
        """(position, stream version, event) of every new event, in order."""
        versions = self.found.streams
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

    def writes(
        self, placed: list[tuple[int, int, NewEvent]], projected: Projected
    ) -> list[TableWrite]:
        data = projected.events
        return [
            TableWrite(inbox, INBOX_COLUMNS, self._kept_rows()),
            *self.quarantine.writes(),
            *self.rows.writes(),
            TableWrite(
                inbox, ("id", "status", "message_id", "reason"), self.settled, mode="update"
            ),
            TableWrite(events, EVENT_COLUMNS, self._event_rows(placed, data)),
            TableWrite(
                streams,
                ("stream_id", "version"),
                _last_versions(placed),
                mode="upsert",
            ),
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
                self._checkpoints(placed, projected.folded),
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

    def _event_rows(self, placed: list[tuple[int, int, NewEvent]], data: list[Any]) -> list[Row]:
        metadata: dict[int, str] = {}
        rows: list[Row] = []
        for (position, version, event), body in zip(placed, data, strict=True):
            encoded = metadata.get(id(event.metadata))
            if encoded is None:
                encoded = metadata[id(event.metadata)] = _encode(event.metadata).decode()
            rows.append(
                (
                    position,
                    event.stream_id,
                    version,
                    event.type,
                    # Data a projection rewrote (annotated) is in the current shape.
                    event.schema_version if body is event.data else current_version(event.type),
                    _encode(body).decode(),
                    encoded,
                    utc(event.occurred_at),
                    self.now,
                    event.dedupe_key,
                    event.inbox_id,
                )
            )
        return rows

    def _checkpoints(
        self, placed: list[tuple[int, int, NewEvent]], folded: Sequence[str]
    ) -> list[Row]:
        if not placed:
            return []
        last = placed[-1][0]
        slots = self.found.slots
        return [
            (name, slots[name].version, slots[name].generation, last, self.now)
            for name in folded
            if name in slots
        ]


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


def _last_versions(placed: list[tuple[int, int, NewEvent]]) -> list[Row]:
    versions = {event.stream_id: version for _, version, event in placed}
    return list(versions.items())


def utc(moment: datetime) -> datetime:
    """The moment as the store keeps it: timezone-aware UTC, naive taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

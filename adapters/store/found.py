"""A batch (`Batch`, what it asks the store to read), what its decision rests
on (`Found`) and what it comes to (`Decision`), and the state a decided batch
leaves (`Found.after`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, NamedTuple

import msgspec

from adapters.store import quarantine, row_versions
from adapters.store.records import Delivery, NewEvent, Receipt, Slot, StoredEvent
from adapters.store.rows import LiveProjection, Lookup, Row, TableWrite
from adapters.store.types import utc
from domain.fold import stream_of


class Batch:
    """Deliveries (or plain events) committed in one transaction, in order."""

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
        """What deciding the batch reads beside the projections' rows: the
        claims of its row versions and the kept copies of its bad payloads."""

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

    def follow_ups(self, projection: LiveProjection | None, found: Found) -> list[Lookup]:
        """What the live projections read next, given what the first read found."""
        if projection is None or not found.slots:
            return []
        return projection.follow_ups(found.slots, found.rows[len(self.own) :], self.event_data())


@dataclass(slots=True)
class Found:
    """What the store holds that a batch's decisions depend on, read under the
    append lock: about the batch's own payloads, keys, streams and items."""

    head: int = 0
    feed_head: int = 0
    """The change feed's last position."""
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
    lookups: list[Lookup] = field(default_factory=list)
    """What the batch asked to read (`Batch.lookups`): its own lookups, then
    the live projections'."""
    rows: list[list[Row]] = field(default_factory=list)
    """The rows each lookup found."""

    def add(self, lookups: Sequence[Lookup], rows: Sequence[list[Row]]) -> None:
        """Follow-up lookups and what they found, after the first ones."""
        self.lookups += lookups
        self.rows += rows

    def after(self, decision: Decision) -> Found:
        """The state once `decision` is written: this state with the batch's
        payloads, keys, stream versions, settled replays and the rows it wrote
        to what the lookups read. A batch decided from it decides as it would
        have decided as a part of the same batch; a state read before the
        decided batch committed is brought up to date by it as well."""
        return replace(
            self,
            head=max(self.head, decision.head),
            feed_head=max(self.feed_head, decision.feed_head),
            inbox_head=max(self.inbox_head, decision.inbox_head),
            accepted={**self.accepted, **decision.accepted},
            known=self.known | decision.known,
            streams={**self.streams, **decision.streams},
            statuses={**self.statuses, **decision.statuses},
            rows=[
                _overlaid(rows, lookup, decision.writes)
                for lookup, rows in zip(self.lookups, self.rows, strict=True)
            ],
        )


def _overlaid(rows: list[Row], lookup: Lookup, writes: Sequence[TableWrite]) -> list[Row]:
    """The rows a lookup found, as the writes since leave them: new rows the
    lookup names (from writes that give every column it reads) and updated
    columns of the rows it holds. Rows are told apart by the table's primary
    key when the lookup reads it, else by the lookup's key."""
    identity = [c.name for c in lookup.table.primary_key.columns]
    if not set(identity) <= set(lookup.columns):
        identity = [lookup.key]
    at = [lookup.columns.index(name) for name in identity]
    by_identity = {tuple(row[i] for i in at): row for row in rows}
    for write in writes:
        if write.table is not lookup.table or not write.rows:
            continue
        if write.mode == "update":
            _update(by_identity, lookup, identity, write)
        elif write.mode in ("insert", "upsert", "ignore"):
            _insert(by_identity, lookup, at, write)
    return list(by_identity.values())


def _insert(by_identity: dict[Row, Row], lookup: Lookup, at: list[int], write: TableWrite) -> None:
    if not set(lookup.columns) <= set(write.columns):
        return
    take = [write.columns.index(column) for column in lookup.columns]
    key = lookup.columns.index(lookup.key)
    for written in write.rows:
        row = tuple(written[i] for i in take)
        if row[key] in lookup.keys:
            identity = tuple(row[i] for i in at)
            if write.mode != "ignore" or identity not in by_identity:
                by_identity[identity] = row


def _update(
    by_identity: dict[Row, Row], lookup: Lookup, identity: list[str], write: TableWrite
) -> None:
    if list(write.key_columns()) != identity:
        return
    keys = [write.columns.index(name) for name in identity]
    changed = [
        (lookup.columns.index(column), n)
        for n, column in enumerate(write.columns)
        if column in lookup.columns and column not in identity
    ]
    for written in write.rows:
        found = by_identity.get(tuple(written[i] for i in keys))
        if found is not None:
            row = list(found)
            for into, source in changed:
                row[into] = written[source]
            by_identity[tuple(written[i] for i in keys)] = tuple(row)


class Placed(NamedTuple):
    """A new event where it goes, with the data to store (annotated, maybe)
    and the keys of the items it touches (None for no domain event)."""

    position: int
    version: int
    event: NewEvent
    data: Any
    routing: tuple[str, ...] | None = None


@dataclass(slots=True)
class Decision:
    """What a batch does: an answer per delivery, the rows to write and the
    events it appends; and what the store holds once it is written."""

    receipts: list[Receipt]
    writes: list[TableWrite]
    placed: list[Placed]
    recorded_at: datetime
    head: int
    feed_head: int
    """The change feed's last position once the decision is written."""
    inbox_head: int
    accepted: dict[tuple[str, str], int]
    known: set[str]
    streams: dict[str, int]
    statuses: dict[int, str]

    def appended(self) -> list[StoredEvent]:
        """The new events as they will read back."""
        return [
            StoredEvent(
                position=placed.position,
                stream_id=placed.event.stream_id,
                version=placed.version,
                type=placed.event.type,
                schema_version=placed.event.schema_version,
                data=msgspec.to_builtins(placed.data),
                metadata=placed.event.metadata,
                occurred_at=utc(placed.event.occurred_at),
                recorded_at=self.recorded_at,
                dedupe_key=placed.event.dedupe_key,
                inbox_id=placed.event.inbox_id,
                routing=placed.routing,
            )
            for placed in self.placed
        ]

"""What the dashboard reads beyond the item queries and the status: owners by
name, count lines, deliveries per minute, the last reconciliation, items by
serial number, and an item's timeline with what each event changed.

Each read is one method with a small, stable signature over the item queries
and the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

import msgspec

from adapters.store import CountRecord, Reader, StoredEvent
from adapters.store.queries import CountsQuery, OwnerKind
from domain.events import DocumentRecorded, DomainEvent, StockUsageRecorded, from_data
from domain.fold import apply
from domain.items import Item
from domain.sm_rules import REF_MODULES
from projections.items import item_of
from projections.queries import Queries

__all__ = [
    "Change",
    "CountLine",
    "CountPage",
    "Dashboard",
    "MinuteCount",
    "OwnerPage",
    "ReconciliationRun",
    "Timeline",
    "TimelineEntry",
]

HISTORY_CHUNK: Final = 1_000
"""Events read per round trip while an item's history is folded."""

CHART_POINTS: Final = 240
"""Most points a quantity chart draws; longer histories are thinned evenly."""


class OwnerPage(msgspec.Struct, frozen=True, kw_only=True):
    owners: list[str]
    next_after: str | None
    """The last owner listed when more may follow."""


class CountLine(msgspec.Struct, frozen=True, kw_only=True):
    """One counted stock line: what the device counted against the balance."""

    position: int
    key: str
    occurred_at: datetime
    location: str
    product: str
    serial: str | None
    batch: str | None
    expected: Decimal | None
    counted: Decimal
    variance: Decimal | None
    kind: str
    """`full count` or `partial count`."""
    request: str
    """The physical inventory request number (RefObjID)."""
    user: str | None


class CountPage(msgspec.Struct, frozen=True, kw_only=True):
    lines: list[CountLine]
    next_before: int | None
    """Position to read below for the next (older) page, when more may follow."""


class ReconciliationRun(msgspec.Struct, frozen=True, kw_only=True):
    """One comparison of invtrack's pools with a vendor's own view."""

    at: datetime
    compared: str
    """What was compared: the vendor and the owners or items it covered."""
    drifted: int
    """Items found to differ."""


class MinuteCount(msgspec.Struct, frozen=True):
    start: datetime
    deliveries: int


class Change(msgspec.Struct, frozen=True):
    """One field of an item before and after an event, as text (None: unset)."""

    field: str
    before: str | None
    after: str | None


class TimelineEntry(msgspec.Struct, frozen=True, kw_only=True):
    position: int
    type: str
    source: str
    occurred_at: datetime
    recorded_at: datetime
    message_id: str | None
    inbox_id: int | None
    note: str
    """What the event says in a few words (a work order, a count, a document)."""
    changes: list[Change]


class Timeline(msgspec.Struct, frozen=True, kw_only=True):
    entries: list[TimelineEntry]
    next_after: int | None
    """Entries to skip for the next page, when more follow."""
    quantities: list[tuple[datetime, Decimal]]
    """(event time, quantity then) through the whole history, in the time the
    stock moved, thinned to at most CHART_POINTS points."""
    events: int
    """Events in the whole history."""


_FIELDS: Final = (
    ("pool", "pool"),
    ("quantity", "quantity"),
    ("resource_id", "technician"),
    ("activity_id", "activity"),
    ("customer_number", "customer"),
    ("inventory_type", "type"),
    ("product_number", "product"),
    ("serial_number", "serial"),
    ("batch_number", "batch"),
    ("exchanged_inventory_id", "exchanged with"),
    ("properties", "properties"),
    ("deleted", "deleted"),
)


class Dashboard:
    """The dashboard's reads over one store."""

    def __init__(self, store: Reader, queries: Queries) -> None:
        self.store = store
        self.queries = queries

    async def owners(
        self, kind: OwnerKind, *, search: str | None, after: str | None, limit: int
    ) -> OwnerPage:
        """Owners of a kind whose id contains `search`, by id, one page."""
        found = await self.queries.owners(
            kind, search=search or "", after=after or "", limit=limit + 1
        )
        more = len(found) > limit
        return OwnerPage(owners=found[:limit], next_after=found[limit - 1] if more else None)

    async def counts(
        self,
        *,
        location: str | None,
        since: datetime | None,
        until: datetime | None,
        before: int | None,
        limit: int,
    ) -> CountPage:
        """ServiceMobility count lines, newest first, one page."""
        where = CountsQuery(
            location=location, since=since, until=until, before=before, limit=limit + 1
        )
        records = await self.queries.counts(where)
        lines = [_count_line(record) for record in records[:limit]]
        more = len(records) > limit
        return CountPage(lines=lines, next_before=lines[-1].position if more else None)

    async def deliveries_per_minute(
        self, hours: int, now: datetime | None = None
    ) -> list[MinuteCount]:
        """Payloads received in each minute of the last `hours` hours, oldest
        first, the current minute last; minutes without any count 0."""
        end = (now or datetime.now(UTC)).replace(second=0, microsecond=0)
        minutes = hours * 60
        start = end - timedelta(minutes=minutes - 1)
        counts = await self.store.received_per_minute(start)
        return [
            MinuteCount(moment, counts.get(moment, 0))
            for moment in (start + timedelta(minutes=n) for n in range(minutes))
        ]

    async def last_reconciliation(self) -> ReconciliationRun | None:
        """The newest reconciliation run, None when none has run."""
        newest = await self.store.reconciliations(limit=1)
        if not newest:
            return None
        run = newest[0]
        named = [
            *(f"resource {r}" for r in run.resources),
            *(f"activity {a}" for a in run.activities),
        ]
        shown = ", ".join(named[:5]) + (f" and {len(named) - 5} more" if len(named) > 5 else "")
        return ReconciliationRun(
            at=run.finished_at,
            compared=f"{run.source.upper()}, {run.compared} items"
            + (f" of {shown}" if shown else ""),
            drifted=run.drifted,
        )

    async def find_items(self, text: str, *, limit: int = 50) -> list[Item]:
        """Items whose key or serial number is `text`, or whose OFS inventory
        id it is."""
        return [item_of(record) for record in await self.queries.find(text, limit=limit)]

    async def timeline(self, key: str, *, after: int, limit: int) -> Timeline | None:
        """One page of the events that touched an item, in the time the stock
        moved (the event time; the storage order among events of one time),
        `after` entries of that order skipped; each with what it changed when
        it was stored, and the item's quantity after every event; None for a
        key no event touched. The item's history is folded from its first
        event in storage order, as an as-of query does."""
        state: dict[str, Item] = {}
        entries: list[TimelineEntry] = []
        moves: list[tuple[datetime, int, DomainEvent]] = []
        read = 0
        while True:
            batch = await self.queries.history(key, after=read, limit=HISTORY_CHUNK)
            if batch is None:
                return None
            for stored in batch:
                event = from_data(stored.data)
                before = state.get(key)
                for item in apply(state, event, stored.position):
                    state[item.key] = item
                entries.append(_entry(stored, event, before, state.get(key)))
                moves.append((stored.occurred_at, stored.position, event))
            if len(batch) < HISTORY_CHUNK:
                break
            read = batch[-1].position
        entries.sort(key=lambda entry: (entry.occurred_at, entry.position))
        page = entries[after : after + limit]
        return Timeline(
            entries=page,
            next_after=after + limit if after + limit < len(entries) else None,
            quantities=_thin(_as_moved(key, moves), CHART_POINTS),
            events=len(entries),
        )


def _as_moved(
    key: str, moves: list[tuple[datetime, int, DomainEvent]]
) -> list[tuple[datetime, Decimal]]:
    """The item's quantity after each event, the events folded in the time
    the stock moved (storage order among events of one time): what the item
    held at each of those times, whatever order the events came in."""
    state: dict[str, Item] = {}
    points: list[tuple[datetime, Decimal]] = []
    for moment, position, event in sorted(moves, key=lambda move: (move[0], move[1])):
        for item in apply(state, event, position):
            state[item.key] = item
        now = state.get(key)
        if now is not None:
            points.append((moment, now.quantity))
    return points


def _count_line(record: CountRecord) -> CountLine:
    return CountLine(
        position=record.position,
        key=record.key,
        occurred_at=record.occurred_at,
        location=record.location,
        product=record.product,
        serial=record.serial,
        batch=record.batch,
        expected=None if record.expected is None else Decimal(record.expected),
        counted=Decimal(record.counted),
        variance=None if record.variance is None else Decimal(record.variance),
        kind=REF_MODULES.get(record.ref_module, record.ref_module),
        request=record.ref_object,
        user=record.user_id,
    )


def _entry(
    stored: StoredEvent, event: DomainEvent, before: Item | None, after: Item | None
) -> TimelineEntry:
    return TimelineEntry(
        position=stored.position,
        type=stored.type,
        source="ofs" if stored.type.startswith("ofs.") else "servicemobility",
        occurred_at=stored.occurred_at,
        recorded_at=stored.recorded_at,
        message_id=stored.metadata.get("messageId"),
        inbox_id=stored.inbox_id,
        note=_note(event),
        changes=_changes(before, after),
    )


def _note(event: DomainEvent) -> str:
    """What the event says about why stock moved."""
    if isinstance(event, StockUsageRecorded):
        why = f"{REF_MODULES.get(event.ref_module, event.ref_module)} {event.ref_object}"
        if event.expected is not None:
            return f"{why}: counted {event.reported_quantity}, expected {event.expected}"
        return f"{why}: in {event.quantity_in}, out {event.quantity_out}"
    if isinstance(event, DocumentRecorded):
        return f"{event.document_type} {event.document_id} (a document: balances unchanged)"
    user = getattr(event, "user", None)
    return f"by {user}" if user else ""


def _changes(before: Item | None, after: Item | None) -> list[Change]:
    if after is None:
        return []
    if before is None:
        return [
            Change(label, None, _shown(getattr(after, field)))
            for field, label in _FIELDS
            if getattr(after, field) not in (None, {}, False)
        ]
    return [
        Change(label, _shown(getattr(before, field)), _shown(getattr(after, field)))
        for field, label in _FIELDS
        if getattr(before, field) != getattr(after, field)
    ]


def _shown(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return "0" if text == "-0" else text
    if isinstance(value, dict):
        return msgspec.json.encode(value).decode()
    return str(value)


def _thin(points: Sequence[tuple[datetime, Decimal]], most: int) -> list[tuple[datetime, Decimal]]:
    """At most `most` points, evenly spaced, the first and last always kept."""
    if len(points) <= most:
        return list(points)
    step = (len(points) - 1) / (most - 1)
    return [points[round(index * step)] for index in range(most)]

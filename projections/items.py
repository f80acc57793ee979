"""The `items` projection: the current state of every tracked item, and every
owner an item has had (so "as of" queries know where to look).

Its tables are the store's (`adapters.store.projection_tables`): an item's
row is its `ItemRecord`, and `record_of` (`adapters.store.changes`) and
`item_of` map the fold's `Item` to it and back. Its live fold also tells every
item change, which the feed's entries are made of.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from decimal import Decimal
from typing import Any, Final, cast

from sqlalchemy import Table

from adapters.store import ItemRecord, Lookup, Row, Slot, TableWrite, projection_tables
from adapters.store.changes import ItemChange
from adapters.store.changes import record_of as record_of
from adapters.store.projection_tables import (
    ITEM_COLUMNS,
    OWNER_COLUMNS,
    item_record,
    item_row,
    items_tables,
)
from domain.events import DomainEvent
from domain.fold import ITEM_EVENTS, annotate, annotated_keys, named_owners, touched_keys
from domain.fold import apply as fold_apply
from domain.items import Item, Pool, Source
from projections.projection import Chunk, Folded, ReadRows
from projections.reading import Wanted, domain_events, kinds_of

NAME: Final = projection_tables.ITEMS
VERSION: Final = 2


def item_of(record: ItemRecord) -> Item:
    """The item a record holds, for the fold."""
    return Item(
        key=record.key,
        source=cast(Source, record.source),
        pool=cast(Pool | None, record.pool),
        inventory_id=record.inventory_id,
        inventory_type=record.inventory_type,
        product_number=record.product_number,
        serial_number=record.serial_number,
        batch_number=record.batch_number,
        quantity=Decimal(record.quantity),
        resource_id=record.resource_id,
        activity_id=record.activity_id,
        customer_number=record.customer_number,
        exchanged_inventory_id=record.exchanged_inventory_id,
        properties=record.properties,
        deleted=record.deleted,
        position=record.position,
        updated_at=record.updated_at,
    )


def row_of(item: Item) -> Row:
    """The item as a row of its table."""
    return item_row(record_of(item))


def stored_item(row: Sequence[Any]) -> Item:
    """The item a row of its table holds."""
    return item_of(item_record(row))


def tables(slot: Slot) -> list[Table]:
    return list(items_tables(slot))


def owner_rows(item: Item) -> list[Row]:
    """The item's current owners as rows of OWNER_COLUMNS."""
    key, rows = item.key, []
    if item.resource_id:
        rows.append(("resource", item.resource_id, key))
    if item.activity_id:
        rows.append(("activity", item.activity_id, key))
    if item.customer_number:
        rows.append(("customer", item.customer_number, key))
    return rows


class Fold:
    """Events folded into items, recording every owner an item passes through
    (also between two events of one batch, so the owners do not depend on how
    the events were batched), and counts annotated with the balance they
    replaced. With `changes`, every item change is kept too (what the feed
    is made of)."""

    def __init__(
        self, state: dict[str, Item], *, annotating: bool = True, changes: bool = False
    ) -> None:
        self.state = state
        self.annotating = annotating
        self.changed: dict[str, Item] = {}
        self.changes: list[ItemChange] | None = [] if changes else None
        self.owners: set[Row] = set()
        # The owners of the stored states are stored: they need no writing.
        self.stored_owners = {row for item in state.values() for row in owner_rows(item)}

    def apply(
        self, position: int, event: DomainEvent, keys: Container[str] | None = None
    ) -> DomainEvent:
        """Fold one event; with `keys`, only those of its items are kept (the
        fold of one part of the items)."""
        if self.annotating:
            event = annotate(self.state, event)
        named = named_owners(event)
        if named:
            self.owners.update(named if keys is None else [row for row in named if row[2] in keys])
        for item in fold_apply(self.state, event, position):
            if keys is not None and item.key not in keys:
                continue
            before = self.state.get(item.key)
            if (
                before is None
                or before.resource_id != item.resource_id
                or before.activity_id != item.activity_id
                or before.customer_number != item.customer_number
            ):
                self.owners.update(owner_rows(item))
            if self.changes is not None:
                self.changes.append(ItemChange(position, event, before, item))
            self.state[item.key] = self.changed[item.key] = item
        return event

    def writes(self, slot: Slot, stored: Iterable[str] = ()) -> list[TableWrite]:
        """The changed items and the owners; items whose key is in `stored`
        exist already (upserted), the others are new (inserted)."""
        items, owners = tables(slot)
        existing = set(stored)
        fresh = [row_of(i) for k, i in self.changed.items() if k not in existing]
        known = [row_of(i) for k, i in self.changed.items() if k in existing]
        return [
            TableWrite(items, ITEM_COLUMNS, fresh),
            TableWrite(items, ITEM_COLUMNS, known, mode="upsert"),
            TableWrite(
                owners, OWNER_COLUMNS, list(self.owners - self.stored_owners), mode="ignore"
            ),
        ]


def lookup(slot: Slot, keys: Iterable[str]) -> Lookup:
    return Lookup(tables(slot)[0], "key", ITEM_COLUMNS, set(keys))


class ItemsProjection:
    name = NAME
    version = VERSION
    only_added = False
    looks_up = 1

    def tables(self, slot: Slot) -> list[Table]:
        return tables(slot)

    def lookups(self, slot: Slot, events: Sequence[Any]) -> list[Lookup]:
        keys: set[str] = set()
        for event in domain_events(events):
            keys.update(touched_keys(event))
            keys.update(annotated_keys(event))
        return [lookup(slot, keys)]

    def fold(
        self, slot: Slot, rows: Sequence[Sequence[Row]], appended: Sequence[Any], *, fresh: bool
    ) -> Folded:
        (found,) = rows
        state = {row[0]: stored_item(row) for row in found}
        fold = Fold(state, annotating=fresh, changes=True)
        events = [
            fold.apply(position, event) if isinstance(event, DomainEvent) else event
            for position, event in appended
        ]
        return Folded(events, fold.writes(slot, (row[0] for row in found)), fold.changes or [])

    def builder(self, slot: Slot, position: int) -> ItemsBuilder:
        return ItemsBuilder(slot, position)


class ItemsBuilder:
    """Rebuilds items. Holding (an empty slot filled from the start), every
    item and owner is kept in memory and each table written once, with COPY
    on PostgreSQL, by `flush`. Otherwise the touched items are read once per
    batch, folded in memory and written as new rows or upserts."""

    name = NAME
    reads = Wanted(kinds_of(*ITEM_EVENTS))
    """The events that change items or name their owners; the others are
    never decoded for it."""

    def __init__(self, slot: Slot, position: int) -> None:
        self.slot = slot
        self.position = position
        # The items the previous batch changed: its write may not be committed
        # yet, so they are taken from here and not from the tables.
        self._recent: dict[str, Item] = {}
        self._whole: Fold | None = None

    @property
    def holds(self) -> bool:
        return self._whole is not None

    def hold(self) -> None:
        # Stored counts carry their annotation already.
        self._whole = Fold({}, annotating=False)

    def flush(self) -> list[TableWrite]:
        fold, self._whole = self._whole, None
        if fold is None:
            return []
        items, owners = tables(self.slot)
        return [
            TableWrite(items, ITEM_COLUMNS, [row_of(item) for item in fold.changed.values()]),
            TableWrite(owners, OWNER_COLUMNS, list(fold.owners)),
        ]

    async def stage(self, chunk: Chunk, read: ReadRows) -> list[TableWrite]:
        if self._whole is not None:
            apply = self._whole.apply
            for index in chunk.after(self.position):
                position, event = chunk.events[index]
                apply(position, event, chunk.keys[index])
            self.position = chunk.last
            return []
        indexes = chunk.after(self.position)
        keys = {key for index in indexes for key in chunk.keys[index]}
        state = {key: self._recent[key] for key in keys if key in self._recent}
        missing = keys.difference(state)
        if missing:
            state.update(
                (row[0], stored_item(row)) for row in await read(lookup(self.slot, missing))
            )
        # Stored counts carry their annotation already.
        fold = Fold(state, annotating=False)
        stored = set(state)
        for index in indexes:
            position, event = chunk.events[index]
            fold.apply(position, event, chunk.keys[index])
        self._recent = fold.changed
        self.position = chunk.last
        return fold.writes(self.slot, stored)

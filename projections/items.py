"""The `items` projection: the current state of every tracked item, and every
owner an item has had (so "as of" queries know where to look).

An item and its row are mapped in one place: `ITEM_COLUMNS`, `row_of` and
`item_of`. The columns are in the order the API writes an item, so a query
can hand a row straight to the response.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from decimal import Decimal
from typing import Any, Final

import msgspec
from sqlalchemy import BigInteger, Boolean, Column, Index, MetaData, String, Table, Text

from adapters.store import Lookup, Slot, TableWrite
from adapters.store.rows import Row
from adapters.store.types import Position, UtcDateTime
from domain.events import DomainEvent
from domain.fold import annotate, annotated_keys, named_owners, touched_keys
from domain.fold import apply as fold_apply
from domain.items import Item
from domain.quantities import decimal_text
from projections.projection import Chunk, Folded, ReadRows, tables_of
from projections.reading import domain_events

NAME: Final = "items"
VERSION: Final = 2

OWNER_KINDS: Final = ("resource", "activity", "customer")

ITEM_COLUMNS: Final = (
    "key",
    "source",
    "pool",
    "inventory_id",
    "inventory_type",
    "product_number",
    "serial_number",
    "batch_number",
    "quantity",
    "resource_id",
    "activity_id",
    "customer_number",
    "exchanged_inventory_id",
    "properties",
    "updated_at",
    "position",
    "deleted",
)
"""The items table's columns, in the order of `row_of` and of the API's item."""

OWNER_COLUMNS: Final = ("kind", "owner", "key")

_encode_properties = msgspec.json.Encoder().encode
_decode_properties = msgspec.json.Decoder(dict[str, Any]).decode


def define(slot: Slot, metadata: MetaData) -> list[Table]:
    name = slot.table("items")
    items = Table(
        name,
        metadata,
        Column("key", String(64), primary_key=True),
        Column("source", String(16), nullable=False),
        Column("pool", String(16)),
        Column("inventory_id", BigInteger),
        Column("inventory_type", Text),
        Column("product_number", Text),
        Column("serial_number", Text),
        Column("batch_number", Text),
        Column("quantity", Text, nullable=False),
        Column("resource_id", Text),
        Column("activity_id", Text),
        Column("customer_number", Text),
        Column("exchanged_inventory_id", BigInteger),
        Column("properties", Text, nullable=False),
        Column("updated_at", UtcDateTime),
        Column("position", Position, nullable=False),
        Column("deleted", Boolean, nullable=False),
        Index(f"{name}_resource", "resource_id", "key"),
        Index(f"{name}_activity", "activity_id", "key"),
        Index(f"{name}_customer", "customer_number", "key"),
        Index(f"{name}_serial", "serial_number"),
    )
    owners = Table(
        slot.table("item_owners"),
        metadata,
        Column("kind", String(16), primary_key=True),
        Column("owner", Text, primary_key=True),
        Column("key", String(64), primary_key=True),
    )
    return [items, owners]


tables = tables_of(define)


def row_of(item: Item) -> Row:
    """The item as a row of ITEM_COLUMNS."""
    return (
        item.key,
        item.source,
        item.pool,
        item.inventory_id,
        item.inventory_type,
        item.product_number,
        item.serial_number,
        item.batch_number,
        decimal_text(item.quantity),
        item.resource_id,
        item.activity_id,
        item.customer_number,
        item.exchanged_inventory_id,
        _encode_properties(item.properties).decode() if item.properties else "{}",
        item.updated_at,
        item.position,
        item.deleted,
    )


def item_of(row: Sequence[Any]) -> Item:
    """The item a row of ITEM_COLUMNS holds."""
    (
        key,
        source,
        pool,
        inventory_id,
        inventory_type,
        product_number,
        serial_number,
        batch_number,
        quantity,
        resource_id,
        activity_id,
        customer_number,
        exchanged_inventory_id,
        properties,
        updated_at,
        position,
        deleted,
    ) = row
    return Item(
        key=key,
        source=source,
        pool=pool,
        inventory_id=inventory_id,
        inventory_type=inventory_type,
        product_number=product_number,
        serial_number=serial_number,
        batch_number=batch_number,
        quantity=Decimal(quantity),
        resource_id=resource_id,
        activity_id=activity_id,
        customer_number=customer_number,
        exchanged_inventory_id=exchanged_inventory_id,
        properties=_decode_properties(properties) if properties != "{}" else {},
        deleted=bool(deleted),
        position=position,
        updated_at=updated_at,
    )


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
    replaced."""

    def __init__(self, state: dict[str, Item], *, annotating: bool = True) -> None:
        self.state = state
        self.annotating = annotating
        self.changed: dict[str, Item] = {}
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
        state = {row[0]: item_of(row) for row in found}
        fold = Fold(state, annotating=fresh)
        events = [
            fold.apply(position, event) if isinstance(event, DomainEvent) else event
            for position, event in appended
        ]
        return Folded(events, fold.writes(slot, (row[0] for row in found)))

    def builder(self, slot: Slot, position: int) -> ItemsBuilder:
        return ItemsBuilder(slot, position)


class ItemsBuilder:
    """Rebuilds items: the touched items are read once per batch, folded in
    memory and written as new rows (COPY on PostgreSQL) or upserts."""

    name = NAME

    def __init__(self, slot: Slot, position: int) -> None:
        self.slot = slot
        self.position = position
        # The items the previous batch changed: its write may not be committed
        # yet, so they are taken from here and not from the tables.
        self._recent: dict[str, Item] = {}

    async def stage(self, chunk: Chunk, read: ReadRows) -> list[TableWrite]:
        indexes = chunk.after(self.position)
        keys = {key for index in indexes for key in chunk.keys[index]}
        state = {key: self._recent[key] for key in keys if key in self._recent}
        missing = keys.difference(state)
        if missing:
            state.update((row[0], item_of(row)) for row in await read(lookup(self.slot, missing)))
        # Stored counts carry their annotation already.
        fold = Fold(state, annotating=False)
        stored = set(state)
        for index in indexes:
            position, event = chunk.events[index]
            fold.apply(position, event, chunk.keys[index])
        self._recent = fold.changed
        self.position = chunk.last
        return fold.writes(self.slot, stored)

"""Item changes as feed entries: one entry per item an event changes, with
the item as `GET /inventories/{key}` shows it after the change and what
changed it. Pure: the live items fold and the migration that fills the feed
for a stored history make their entries here, so both make the same."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import msgspec

from adapters.store.feed import ITEM_CHANGED, ITEM_DELETED, FeedDraft
from adapters.store.records import ItemRecord
from domain.events import DomainEvent, OfsInventoryEvent, StockUsageRecorded, event_type
from domain.fold import apply
from domain.items import Item
from domain.quantities import decimal_text


class ItemChange(msgspec.Struct, frozen=True):
    """One item one event changed: as it was (None when new) and as it is."""

    position: int
    event: DomainEvent
    before: Item | None
    after: Item


class Change(msgspec.Struct, frozen=True, rename="camel"):
    """What changed an item: the vendor's event type, the payload's message
    id, the source and the quantity's change (a decimal string)."""

    event_type: str
    message_id: str | None
    source: str
    quantity_delta: str


class ItemChanged(ItemRecord, frozen=True, kw_only=True, rename="camel"):
    """An item entry's `data`: the item after the change, and the change."""

    change: Change


def record_of(item: Item) -> ItemRecord:
    """The item as the store keeps it and the API writes it."""
    quantity = decimal_text(item.quantity)
    return ItemRecord(
        key=item.key,
        source=item.source,
        pool=item.pool,
        inventory_id=item.inventory_id,
        inventory_type=item.inventory_type,
        product_number=item.product_number,
        serial_number=item.serial_number,
        batch_number=item.batch_number,
        quantity=quantity,
        resource_id=item.resource_id,
        activity_id=item.activity_id,
        customer_number=item.customer_number,
        exchanged_inventory_id=item.exchanged_inventory_id,
        properties=item.properties,
        updated_at=item.updated_at,
        position=item.position,
        deleted=item.deleted,
        negative=quantity.startswith("-"),
    )


def vendor_event_type(event: DomainEvent) -> str:
    """The vendor's name of what happened: `InventoryUsage/1002` (with the
    RefModule) for a ServiceMobility ledger line, the OFS `eventType`
    (`inventoryInstalled`, ...) for an OFS event."""
    if isinstance(event, StockUsageRecorded):
        return f"InventoryUsage/{event.ref_module}"
    kind = event_type(event)
    return kind.split(".", 1)[1] if isinstance(event, OfsInventoryEvent) else kind


def owners_of(*items: Item | None) -> tuple[tuple[str, str], ...]:
    """(kind, owner) of every owner the items have."""
    found: dict[tuple[str, str], None] = {}
    for item in items:
        if item is None:
            continue
        for kind, owner in (
            ("resource", item.resource_id),
            ("activity", item.activity_id),
            ("customer", item.customer_number),
        ):
            if owner:
                found[(kind, owner)] = None
    return tuple(found)


def item_entry(change: ItemChange, message_id: str | None) -> FeedDraft:
    """The feed entry of one item change."""
    before, after = change.before, change.after
    delta = after.quantity - (before.quantity if before is not None else Decimal(0))
    record = record_of(after)
    data = ItemChanged(
        **{field: getattr(record, field) for field in record.__struct_fields__},
        change=Change(
            event_type=vendor_event_type(change.event),
            message_id=message_id,
            source=after.source,
            quantity_delta=decimal_text(delta),
        ),
    )
    return FeedDraft(
        id=f"{change.position}-{after.key}",
        type=ITEM_DELETED if after.deleted else ITEM_CHANGED,
        subject=after.key,
        source=after.source,
        time=change.event.occurred_at,
        event_position=change.position,
        data=data,
        owners=owners_of(before, after),
    )


def item_entries(
    changes: Iterable[ItemChange], messages: Mapping[int, str | None]
) -> list[FeedDraft]:
    """The entries of the changes, each naming the message of its event
    (`messages`: event position -> message id)."""
    return [item_entry(change, messages.get(change.position)) for change in changes]


def changes_of(items: dict[str, Item], event: DomainEvent, position: int) -> list[ItemChange]:
    """Fold one event into `items` (changed in place) and say what changed."""
    changed = []
    for item in apply(items, event, position):
        changed.append(ItemChange(position, event, items.get(item.key), item))
        items[item.key] = item
    return changed


def message_of(metadata: Mapping[str, Any]) -> str | None:
    """The message id an event's metadata names."""
    message = metadata.get("messageId")
    return message if isinstance(message, str) else None

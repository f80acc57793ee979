"""Pool rules for OFS inventory events (docs/vendors.md, "Oracle Field Service")."""

from __future__ import annotations

from decimal import Decimal
from typing import Final

import msgspec

from domain.events import (
    CustomerInventoryCreated,
    CustomerInventoryDeleted,
    InventoryDeinstalled,
    InventoryInstalled,
    InventoryUndoDeinstall,
    InventoryUndoInstall,
    OfsActivity,
    OfsChanges,
    OfsDetails,
    OfsInventoryEvent,
    ResourceInventoryCreated,
    ResourceInventoryDeleted,
    ResourceInventoryUpdated,
)
from domain.items import Item, Pool, ofs_key

STATUS_POOLS: Final[dict[str, Pool]] = {
    "resource": "resource",
    "provider": "resource",
    "customer": "customer",
    "installed": "install",
    "install": "install",
    "deinstalled": "deinstall",
    "deinstall": "deinstall",
}
"""OFS `status` values mapped to our pools."""

EVENT_POOLS: Final[dict[type[OfsInventoryEvent], Pool]] = {
    ResourceInventoryCreated: "resource",
    CustomerInventoryCreated: "customer",
    InventoryInstalled: "install",
    InventoryDeinstalled: "deinstall",
    InventoryUndoInstall: "resource",
    InventoryUndoDeinstall: "customer",
}
"""The pool an event implies when neither `inventoryChanges` nor
`inventoryDetails` carries a status."""


def is_delete(event: OfsInventoryEvent) -> bool:
    return isinstance(event, ResourceInventoryDeleted | CustomerInventoryDeleted)


def pool_after(event: OfsInventoryEvent, prior: Pool | None) -> Pool | None:
    """The pool after the event: the status in the changes, else in the details,
    else the one the event type implies; an update keeps the pool it had."""
    for status in (event.changes.status, event.details.status):
        if status is not None and status in STATUS_POOLS:
            return STATUS_POOLS[status]
    implied = EVENT_POOLS.get(type(event))
    if implied is not None:
        return implied
    if prior is not None:
        return prior
    # An update for a record we never saw and that names no status: its prefix.
    return "resource" if isinstance(event, ResourceInventoryUpdated) else "customer"


def apply(item: Item | None, event: OfsInventoryEvent, position: int) -> Item:
    """The record after one OFS inventory event.

    Fields present in the event overwrite, absent ones keep their value; an
    event for an unknown or deleted record (re)creates it from what it carries.
    """
    if item is not None and item.deleted and is_delete(event):
        # Deleting a deleted record changes nothing but when we last heard of it.
        return msgspec.structs.replace(item, position=position, updated_at=event.occurred_at)
    if item is None or item.deleted:
        item = Item(
            key=ofs_key(event.inventory_id),
            source="ofs",
            pool=None,
            inventory_id=event.inventory_id,
        )
    if is_delete(event):
        return msgspec.structs.replace(
            item, pool=None, deleted=True, position=position, updated_at=event.occurred_at
        )
    details, changes, activity = event.details, event.changes, event.activity
    pool = pool_after(event, item.pool)
    activity = activity or OfsActivity()
    resource_id = changes.resource_id or activity.resource_id or item.resource_id
    activity_id = _first_id(changes.activity_id, activity.activity_id) or item.activity_id
    customer_number = activity.customer_number or item.customer_number
    if pool == "resource":
        # OFS leaves the activity empty for records in a resource pool.
        activity_id, customer_number = None, None
    return msgspec.structs.replace(
        item,
        pool=pool,
        inventory_type=changes.inventory_type or details.inventory_type or item.inventory_type,
        serial_number=changes.serial_number or details.serial_number or item.serial_number,
        quantity=_first_quantity(changes, details, item),
        resource_id=resource_id,
        activity_id=activity_id,
        customer_number=customer_number,
        exchanged_inventory_id=(
            changes.exchanged_inventory_id
            if changes.exchanged_inventory_id is not None
            else item.exchanged_inventory_id
        ),
        properties={**item.properties, **details.properties, **changes.properties},
        position=position,
        updated_at=event.occurred_at,
    )


def _first_id(*candidates: int | None) -> str | None:
    for candidate in candidates:
        if candidate is not None:
            return str(candidate)
    return None


def _first_quantity(changes: OfsChanges, details: OfsDetails, item: Item) -> Decimal:
    """The record's absolute quantity; a record that never stated one holds 1."""
    if changes.quantity is not None:
        return changes.quantity
    if details.quantity is not None:
        return details.quantity
    return item.quantity

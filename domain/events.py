"""The facts invtrack stores, for both sources, as one tagged union.

Events carry the vendors' facts renamed to our vocabulary; the pool rules that
turn them into state live in `domain.rules`, so a changed rule only needs a
rebuild, never a rewrite of stored events.

A stored event's type name (its tag) never changes. New fields get defaults.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Final

import msgspec

SCHEMA_VERSION: Final = 1
"""Current schema version of every event type; upcasters lift older ones."""


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Base of every stored fact; `occurred_at` is the vendor's event time (UTC)."""

    occurred_at: datetime


# --------------------------------------------------------------------------
# ServiceMobility


class DispositionReason(msgspec.Struct, frozen=True, kw_only=True):
    reason_code: str = ""
    description: str = ""
    quantity_in: Decimal = Decimal(0)
    quantity_out: Decimal = Decimal(0)
    inventory_quantity: Decimal = Decimal(0)
    quantity: Decimal = Decimal(0)


class StockUsageRecorded(Event, frozen=True, kw_only=True, tag="sm.StockUsageRecorded"):
    """One ledger line of an InventoryUsage row: an item at a storage location.

    `expected` and `variance` are filled for counts (RefModule 1004/1005) when
    the line is appended: the balance before the count and counted - expected.
    """

    location: str
    product: str
    serial: str | None = None
    batch: str | None = None
    quantity_in: Decimal = Decimal(0)
    quantity_out: Decimal = Decimal(0)
    reported_quantity: Decimal = Decimal(0)
    damaged_quantity: Decimal = Decimal(0)
    reported_damaged_quantity: Decimal = Decimal(0)
    ref_module: str
    ref_object: str
    user: str | None = None
    disposition_reasons: tuple[DispositionReason, ...] = ()
    expected: Decimal | None = None
    variance: Decimal | None = None


class StockRef(msgspec.Struct, frozen=True, kw_only=True):
    """A stock line a document mentions: location, product, serial, batch."""

    location: str
    product: str
    serial: str | None = None
    batch: str | None = None


class DocumentRecorded(Event, frozen=True, kw_only=True, tag="sm.DocumentRecorded"):
    """A ServiceMobility document (load, transfer, count request, work order...).

    Documents describe movements that InventoryUsage already reports, so they
    never change a balance; they are kept for history.
    """

    document_type: str
    document_id: str
    mentions: tuple[StockRef, ...] = ()
    body: dict[str, Any] = msgspec.field(default_factory=dict)


# --------------------------------------------------------------------------
# Oracle Field Service


class OfsActivity(msgspec.Struct, frozen=True, kw_only=True):
    activity_id: int | None = None
    resource_id: str | None = None
    customer_number: str | None = None
    appt_number: str | None = None
    date: str | None = None


class OfsDetails(msgspec.Struct, frozen=True, kw_only=True):
    """`inventoryDetails`: key fields of the record as it is after the event."""

    status: str | None = None
    inventory_type: str | None = None
    serial_number: str | None = None
    quantity: Decimal | None = None
    properties: dict[str, Any] = msgspec.field(default_factory=dict)


class OfsChanges(msgspec.Struct, frozen=True, kw_only=True):
    """`inventoryChanges`: only the fields the event changed."""

    status: str | None = None
    inventory_type: str | None = None
    serial_number: str | None = None
    quantity: Decimal | None = None
    exchanged_inventory_id: int | None = None
    resource_id: str | None = None
    activity_id: int | None = None
    properties: dict[str, Any] = msgspec.field(default_factory=dict)


class OfsInventoryEvent(Event, frozen=True, kw_only=True):
    """Fields shared by the ten OFS inventory events."""

    inventory_id: int
    details: OfsDetails = OfsDetails()
    changes: OfsChanges = OfsChanges()
    activity: OfsActivity | None = None
    user: str | None = None
    application_id: str | None = None
    exchanged: bool = False


class ResourceInventoryCreated(
    OfsInventoryEvent, frozen=True, kw_only=True, tag="ofs.resourceInventoryCreated"
):
    pass


class ResourceInventoryUpdated(
    OfsInventoryEvent, frozen=True, kw_only=True, tag="ofs.resourceInventoryUpdated"
):
    pass


class ResourceInventoryDeleted(
    OfsInventoryEvent, frozen=True, kw_only=True, tag="ofs.resourceInventoryDeleted"
):
    pass


class CustomerInventoryCreated(
    OfsInventoryEvent, frozen=True, kw_only=True, tag="ofs.customerInventoryCreated"
):
    pass


class CustomerInventoryUpdated(
    OfsInventoryEvent, frozen=True, kw_only=True, tag="ofs.customerInventoryUpdated"
):
    pass


class CustomerInventoryDeleted(
    OfsInventoryEvent, frozen=True, kw_only=True, tag="ofs.customerInventoryDeleted"
):
    pass


class InventoryInstalled(
    OfsInventoryEvent, frozen=True, kw_only=True, tag="ofs.inventoryInstalled"
):
    pass


class InventoryDeinstalled(
    OfsInventoryEvent, frozen=True, kw_only=True, tag="ofs.inventoryDeinstalled"
):
    pass


class InventoryUndoInstall(
    OfsInventoryEvent, frozen=True, kw_only=True, tag="ofs.inventoryUndoInstall"
):
    pass


class InventoryUndoDeinstall(
    OfsInventoryEvent, frozen=True, kw_only=True, tag="ofs.inventoryUndoDeinstall"
):
    pass


class OfsEventRecorded(Event, frozen=True, kw_only=True, tag="ofs.EventRecorded"):
    """An OFS event that is not an inventory event: kept, never projected."""

    event_type: str
    body: dict[str, Any] = msgspec.field(default_factory=dict)


class OfsSubscriptionGap(Event, frozen=True, kw_only=True, tag="ofs.SubscriptionGap"):
    """OFS dropped a poller's subscription (unread for 36 hours, or deleted) and
    the poller made a new one at `occurred_at`. OFS does not serve a new
    subscription the events before it, so the events from `since` (the newest
    event time stored before; None when none was) to `occurred_at` may never
    have been read. Kept, never projected."""

    poller: str
    expired_subscription: str | None = None
    subscription: str
    since: datetime | None = None


OfsInventory = (
    ResourceInventoryCreated
    | ResourceInventoryUpdated
    | ResourceInventoryDeleted
    | CustomerInventoryCreated
    | CustomerInventoryUpdated
    | CustomerInventoryDeleted
    | InventoryInstalled
    | InventoryDeinstalled
    | InventoryUndoInstall
    | InventoryUndoDeinstall
)

DomainEvent = (
    StockUsageRecorded | DocumentRecorded | OfsInventory | OfsEventRecorded | OfsSubscriptionGap
)

OFS_INVENTORY_EVENTS: Final[dict[str, type[OfsInventoryEvent]]] = {
    cls.__struct_config__.tag.removeprefix("ofs."): cls  # type: ignore[union-attr]
    for cls in (
        ResourceInventoryCreated,
        ResourceInventoryUpdated,
        ResourceInventoryDeleted,
        CustomerInventoryCreated,
        CustomerInventoryUpdated,
        CustomerInventoryDeleted,
        InventoryInstalled,
        InventoryDeinstalled,
        InventoryUndoInstall,
        InventoryUndoDeinstall,
    )
}
"""The OFS `eventType` names we project, mapped to their event class."""

_decoder: Final = msgspec.json.Decoder(DomainEvent)
_converter_type: Final = DomainEvent


def event_type(event: DomainEvent) -> str:
    """The stored type name of an event (its tag)."""
    return str(event.__struct_config__.tag)


def to_data(event: DomainEvent) -> dict[str, Any]:
    """The event as stored: plain JSON values, the tag under `type`."""
    data: dict[str, Any] = msgspec.to_builtins(event)
    return data


def from_data(data: dict[str, Any]) -> DomainEvent:
    """Rebuild an event from its stored data (already upcast to the current shape)."""
    event: DomainEvent = msgspec.convert(data, _converter_type, strict=False)
    return event


def decode_json(raw: bytes) -> DomainEvent:
    event: DomainEvent = _decoder.decode(raw)
    return event


class RowClaim(msgspec.Struct, frozen=True, kw_only=True):
    """The vendor row a ledger line comes from. A row version counts with one
    content, the first it arrives with: the same version arriving with other
    ledger lines is a conflict, recorded and not counted."""

    version: str
    """The key of the row version (the vendor's `rowver`)."""
    identity: str
    """The row's identity: its version and its ledger content, canonical."""
    rowver: str
    """The row version as the vendor wrote it."""


class Fact(msgspec.Struct, frozen=True, kw_only=True):
    """A translated event with the key that makes its delivery idempotent, and
    for a ServiceMobility ledger line the row it comes from."""

    event: DomainEvent
    dedupe_key: str
    row: RowClaim | None = None

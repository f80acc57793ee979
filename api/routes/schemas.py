"""What the HTTP API answers, as msgspec Structs (camelCase on the wire)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, cast

import msgspec
from msgspec import Meta

from adapters.store import StoredEvent
from adapters.store.rows import Row
from api.services.vendor_health import VendorHealth
from domain.items import Item
from projections.items import row_of


class Accepted(msgspec.Struct, frozen=True):
    """A ServiceMobility webhook committed (or recognised as a repeat)."""

    status: Annotated[str, Meta(examples=["accepted"])]
    id: Annotated[str, Meta(examples=["3f0c6f7e-0b1e-4c39-a7a4-5b8f6f2e0001"])]
    duplicate: bool
    events: Annotated[int, Meta(examples=[2])]


class OfsAccepted(msgspec.Struct, frozen=True, omit_defaults=True):
    """OFS events committed: how many came, how many were repeats, how many
    were appended, and (only when some were) how many were quarantined on
    their own, with why: `received` = `events` + `duplicates` + `quarantined`."""

    status: Annotated[str, Meta(examples=["accepted"])]
    received: Annotated[int, Meta(examples=[9])]
    duplicates: Annotated[int, Meta(examples=[0])]
    events: Annotated[int, Meta(examples=[9])]
    quarantined: Annotated[
        int, Meta(description="events that could not be taken, each kept in quarantine")
    ] = 0
    errors: Annotated[
        list[EventError], Meta(description="why each quarantined event could not be taken")
    ] = msgspec.field(default_factory=list)


class EventError(msgspec.Struct, frozen=True):
    """An event of a pushed body that was quarantined: where it is, and why."""

    field: Annotated[str, Meta(examples=["items[3].time"])]
    message: str


class ItemOut(msgspec.Struct, frozen=True, rename="camel"):
    key: Annotated[str, Meta(examples=["ofs-21258547"])]
    source: Annotated[str, Meta(examples=["ofs"])]
    pool: Annotated[str | None, Meta(examples=["install"])]
    inventory_id: Annotated[int | None, Meta(examples=[21258547])]
    inventory_type: Annotated[str | None, Meta(examples=["MODEM"])]
    product_number: str | None
    serial_number: Annotated[str | None, Meta(examples=["SN-0001"])]
    batch_number: str | None
    quantity: Annotated[str, Meta(examples=["1"], description="exact decimal")]
    resource_id: Annotated[str | None, Meta(examples=["TECH_017"])]
    activity_id: Annotated[str | None, Meta(examples=["4225599"])]
    customer_number: Annotated[str | None, Meta(examples=["C-1009"])]
    exchanged_inventory_id: int | None
    properties: dict[str, Any]
    updated_at: datetime | None
    position: Annotated[int, Meta(examples=[42])]
    deleted: bool = False
    negative: bool = False

    @classmethod
    def of(cls, row: Row) -> ItemOut:
        """An item row (`projections.items.ITEM_COLUMNS`, the same order as the
        fields) as the API writes it; its properties are stored JSON and go
        out as they are."""
        head, properties, tail = row[:13], row[13], row[14:]
        raw = cast(dict[str, Any], msgspec.Raw(properties)) if properties != "{}" else {}
        return cls(*head, raw, *tail, negative=row[8].startswith("-"))  # type: ignore[call-arg,misc]

    @classmethod
    def of_item(cls, item: Item) -> ItemOut:
        return cls.of(row_of(item))


class ItemList(msgspec.Struct, frozen=True, rename="camel"):
    items: list[ItemOut]
    next_cursor: Annotated[str | None, Meta(examples=[None])]


class HistoryEntry(msgspec.Struct, frozen=True, rename="camel"):
    position: int
    type: Annotated[str, Meta(examples=["ofs.inventoryInstalled"])]
    occurred_at: datetime
    recorded_at: datetime
    source: Annotated[str, Meta(examples=["ofs"])]
    message_id: Annotated[
        str | None, Meta(description="the delivery it came in: envelope id or payload hash")
    ]
    data: dict[str, Any]
    inbox_id: Annotated[int | None, Meta(description="the raw payload kept in the inbox")] = None

    @classmethod
    def of(cls, event: StoredEvent) -> HistoryEntry:
        return cls(
            position=event.position,
            type=event.type,
            occurred_at=event.occurred_at,
            recorded_at=event.recorded_at,
            source="ofs" if event.type.startswith("ofs.") else "servicemobility",
            message_id=event.metadata.get("messageId"),
            data=event.data,
            inbox_id=event.inbox_id,
        )


class HistoryPage(msgspec.Struct, frozen=True, rename="camel"):
    items: list[HistoryEntry]
    next_cursor: str | None


class Health(msgspec.Struct, frozen=True):
    status: Annotated[str, Meta(examples=["ok"])]


class Readiness(msgspec.Struct, frozen=True):
    status: Annotated[str, Meta(examples=["ready"])]
    database: bool
    stale: list[str]
    vendors: Annotated[
        VendorHealth | None,
        Meta(
            description="the pullers (failing since when, the last error) and the OFS "
            "subscription gaps; details only, they do not make the service unready; "
            "null when the store did not answer in time"
        ),
    ] = None

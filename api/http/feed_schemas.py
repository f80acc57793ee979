"""What the change feed and the push subscriptions answer and take, as msgspec
Structs (camelCase on the wire)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from adapters.store import ItemRecord
from adapters.store.feed import SubscriptionRecord


class FeedEntryOut(msgspec.Struct, frozen=True):
    """A feed entry: a CloudEvents 1.0 JSON object."""

    specversion: Annotated[str, Meta(examples=["1.0"])]
    id: Annotated[str, Meta(examples=["42-ofs-21258547"], description="the same every time")]
    source: Annotated[str, Meta(examples=["invtrack"])]
    type: Annotated[
        str,
        Meta(
            examples=["invtrack.item.changed"],
            description="`invtrack.item.changed`, `invtrack.item.deleted`, `invtrack.stock.*`",
        ),
    ]
    subject: Annotated[str, Meta(examples=["ofs-21258547"], description="the item's key")]
    time: Annotated[datetime, Meta(description="when the stock moved")]
    position: Annotated[int, Meta(examples=[57], description="strictly increasing")]
    datacontenttype: Annotated[str, Meta(examples=["application/json"])]
    data: Annotated[
        dict[str, Any],
        Meta(
            description="the item as `GET /inventories/{key}` shows it after the change, "
            "with `change`: `eventType`, `messageId`, `source`, `quantityDelta`"
        ),
    ]


class SnapshotOut(msgspec.Struct, frozen=True, rename="camel"):
    """One page of a snapshot: every item at `position`."""

    position: Annotated[int, Meta(examples=[57])]
    items: list[ItemRecord]
    next_cursor: Annotated[str | None, Meta(examples=[None])]


class SubscriptionIn(
    msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True
):
    """A new push subscription."""

    url: Annotated[str, Meta(examples=["https://erp.example.com/invtrack/hook"])]
    filters: Annotated[
        dict[str, str | list[str]],
        Meta(
            examples=[{"resourceId": ["TECH_017"], "type": "invtrack.item.changed"}],
            description="the feed's filters: `type`, `source`, `resourceId`, `customerNumber`, "
            "`activityId`, `subject`, each a text or a list of texts",
        ),
    ] = msgspec.field(default_factory=dict)
    from_: Annotated[
        str | int,
        Meta(description="`now` (the default), `start`, or a feed position"),
    ] = msgspec.field(default="now", name="from")
    batch_size: Annotated[int, Meta(ge=1, le=1000, examples=[100])] = 100


class SubscriptionOut(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: Annotated[str, Meta(examples=["sub_3c2f9a0d1e7b4c55"])]
    url: str
    filters: dict[str, list[str]]
    batch_size: int
    state: Annotated[str, Meta(examples=["active"], description="active, retrying or parked")]
    position: Annotated[int, Meta(description="the last position acknowledged")]
    lag: Annotated[
        int, Meta(description="entries behind the feed's head (that pass its filters or not)")
    ]
    last_error: str | None
    last_delivered_at: datetime | None
    failing_since: datetime | None
    next_attempt_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, record: SubscriptionRecord, head: int) -> SubscriptionOut:
        return cls(
            id=record.id,
            url=record.url,
            filters=record.filters,
            batch_size=record.batch_size,
            state=record.state,
            position=record.position,
            lag=max(head - record.position, 0),
            last_error=record.last_error,
            last_delivered_at=record.last_delivered_at,
            failing_since=record.failing_since,
            next_attempt_at=record.next_attempt_at,
            created_at=record.created_at,
        )


class CreatedSubscription(SubscriptionOut, frozen=True, kw_only=True, rename="camel"):
    """A subscription just made, with its signing secret (shown only here)."""

    secret: Annotated[str, Meta(examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"])]


class SubscriptionList(msgspec.Struct, frozen=True, rename="camel"):
    items: list[SubscriptionOut]


class RewindIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where to deliver again from: after a position, or from a time on."""

    position: Annotated[int, Meta(ge=0)] | None = None
    time: datetime | None = None

"""What the HTTP API answers, as msgspec Structs (camelCase on the wire). An
item is the store's `ItemRecord`, as it is."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from adapters.store import ItemRecord, StoredEvent
from api.services.vendor_health import VendorHealth
from domain.reconciliation import Reconciliation


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


class ItemList(msgspec.Struct, frozen=True, rename="camel"):
    items: list[ItemRecord]
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


class ReplicaReport(msgspec.Struct, frozen=True, rename="camel"):
    state: Annotated[
        str,
        Meta(
            examples=["following"],
            description="following (reads go to it), lagging, down or promoted "
            "(reads go to the primary)",
        ),
    ]
    lag_seconds: Annotated[
        float | None,
        Meta(
            examples=[0.0],
            description="how long ago the oldest event it lacks was recorded; "
            "null when it could not be asked",
        ),
    ]
    reason: str | None = None


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
    replica: Annotated[
        ReplicaReport | None,
        Meta(
            description="the read replica (INVTRACK_READ_DATABASE_URL), reported only: "
            "a replica that lags or is down does not make the service unready, its "
            "reads go to the primary meanwhile; null without one"
        ),
    ] = None


class DriftOut(msgspec.Struct, frozen=True):
    key: Annotated[str, Meta(examples=["ofs-21258547"])]
    field: Annotated[
        str,
        Meta(
            examples=["quantity"],
            description="item, pool, resourceId, activityId, quantity, serialNumber or "
            "inventoryType",
        ),
    ]
    ours: Annotated[
        str | None, Meta(examples=["15"], description="`present` or `absent` for `item`")
    ]
    theirs: Annotated[str | None, Meta(examples=["12"])]


class RunOut(msgspec.Struct, frozen=True, rename="camel"):
    id: int
    source: Annotated[str, Meta(examples=["ofs"])]
    started_at: datetime
    finished_at: datetime
    resources: list[str]
    activities: list[str]
    compared: Annotated[int, Meta(description="items compared")]
    drifted: Annotated[int, Meta(description="items that differ")]
    drifts: list[DriftOut]

    @classmethod
    def of(cls, run: Reconciliation) -> RunOut:
        return cls(
            id=run.id or 0,
            source=run.source,
            started_at=run.started_at,
            finished_at=run.finished_at,
            resources=list(run.resources),
            activities=list(run.activities),
            compared=run.compared,
            drifted=run.drifted,
            drifts=[DriftOut(d.key, d.field, d.ours, d.theirs) for d in run.drifts],
        )


class RunList(msgspec.Struct, frozen=True, rename="camel"):
    items: list[RunOut]
    next_cursor: str | None

"""What the store holds and how far each projection has got: for `invtrack status`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec

from adapters.store import Reader, Registered
from projections.catalog import PROJECTIONS
from projections.projection import Projection


class SlotStatus(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One build of one version of a projection."""

    version: int
    generation: int
    state: str
    position: int
    lag: int | None
    """Events stored after the position; None for a retired build."""
    updated_at: datetime


class ProjectionStatus(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A projection is stale when the version it is served from is not the
    version this build of invtrack folds (or none is served)."""

    name: str
    wanted: int | None
    """The version this build folds; None for a projection it no longer has."""
    active: int | None
    stale: bool
    slots: list[SlotStatus]


class QuarantinedPayload(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: int
    source: str
    kind: str
    message_id: str | None
    received_at: datetime
    reason: str | None
    received_count: int
    """Times it came: a payload is kept once per content."""
    last_received_at: datetime | None
    """When it last came, None while it came once."""


class Conflict(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A ServiceMobility row version that came with other ledger content than
    the content it counts with; the payloads are inbox ids."""

    id: int
    rowver: str
    counted_payload: int | None
    refused_payload: int | None
    detected_at: datetime
    both_counted: bool
    """Found when upgrading a store that had counted both."""


class Status(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    events: int
    head: int
    projections: list[ProjectionStatus]
    inbox: dict[str, int]
    """Payloads kept, by status: accepted, duplicate, quarantined."""
    quarantine_received: int
    """Times the quarantined payloads came, repeats included."""
    quarantined: list[QuarantinedPayload]
    """The oldest quarantined payloads (up to the limit asked for)."""
    conflict_count: int
    """Row versions that came with other ledger content (each recorded once)."""
    conflicts: list[Conflict]
    """The newest of them (up to the limit asked for)."""


async def status(
    store: Reader,
    projections: Sequence[Projection] = PROJECTIONS,
    *,
    quarantined: int = 20,
) -> Status:
    """Counts, positions, every projection slot with its lag, the inbox, and
    row conflicts; the oldest `quarantined` payloads and as many newest
    conflicts."""
    rows = await store.registered()
    head = await store.head()
    wanted = {projection.name: projection.version for projection in projections}
    names = list(wanted) + sorted({row.name for row in rows} - wanted.keys())
    return Status(
        events=await store.count(),
        head=head,
        projections=[
            _projection(name, wanted.get(name), [r for r in rows if r.name == name], head)
            for name in names
        ],
        inbox=await store.inbox_counts(),
        quarantine_received=(await store.quarantine_totals())[1],
        quarantined=[
            QuarantinedPayload(
                id=entry.id,
                source=entry.source,
                kind=entry.kind,
                message_id=entry.message_id,
                received_at=entry.received_at,
                reason=entry.reason,
                received_count=entry.received_count,
                last_received_at=entry.last_received_at,
            )
            for entry in await store.inbox_entries("quarantined", limit=quarantined)
        ]
        if quarantined > 0
        else [],
        conflict_count=await store.conflict_count(),
        conflicts=[
            Conflict(
                id=found.id,
                rowver=found.rowver,
                counted_payload=found.counted_inbox_id,
                refused_payload=found.inbox_id,
                detected_at=found.detected_at,
                both_counted=found.both_counted,
            )
            for found in await store.conflicts(limit=quarantined)
        ]
        if quarantined > 0
        else [],
    )


def _projection(
    name: str, wanted: int | None, rows: list[Registered], head: int
) -> ProjectionStatus:
    active = next((row.slot.version for row in rows if row.state == "active"), None)
    return ProjectionStatus(
        name=name,
        wanted=wanted,
        active=active,
        stale=wanted is not None and active != wanted,
        slots=[
            SlotStatus(
                version=row.slot.version,
                generation=row.slot.generation,
                state=row.state,
                position=row.position,
                lag=None if row.state == "retired" else max(head - row.position, 0),
                updated_at=row.updated_at,
            )
            for row in rows
        ],
    )

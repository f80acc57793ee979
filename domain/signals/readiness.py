"""Parts readiness: an OFS activity's required inventories against what its
assigned resource holds in its resource pool.

What is known of an activity is a fold of OFS events: its resource and date
from the `activityDetails` of its inventory events and from its required
inventories read (a value given replaces the one known, an absent one keeps
it), and its required lines from the last read of them.

Per required line (lines naming one product, by the product rule, are one
line): `required`, `available` (the resource's on-hand quantity of the
product, 0 when below 0) and `missing` (`required - available` when above 0).
An activity is `ready` when nothing is missing. Its readiness is `unknown`
(and it is not ready) while its required inventories were never read or the
last answer could not be used; without a resource nothing is available.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Literal

import msgspec

from domain.events import DomainEvent, OfsInventoryEvent, RequiredInventoriesRecorded, RequiredLine
from domain.signals.products import StockKey, product_id

ReadinessStatus = Literal["ready", "missing", "unknown"]
NOT_READ = "the required inventories were not read yet"


class Activity(msgspec.Struct, frozen=True, kw_only=True):
    """What is known of an OFS activity. `lines` is None until its required
    inventories are read; `unknown` says why the last answer was unusable."""

    activity_id: str
    resource_id: str | None = None
    date: str | None = None
    lines: tuple[RequiredLine, ...] | None = None
    unknown: str | None = None
    read_at: datetime | None = None


class ReadinessLine(msgspec.Struct, frozen=True, kw_only=True):
    inventory_type: str
    model: str | None
    product: str
    required: Decimal
    available: Decimal
    missing: Decimal


class Readiness(msgspec.Struct, frozen=True, kw_only=True):
    activity_id: str
    resource_id: str | None
    date: str | None
    ready: bool
    status: ReadinessStatus
    reason: str | None = None
    lines: tuple[ReadinessLine, ...] = ()


def activity_of(event: DomainEvent) -> str | None:
    """The activity an event tells about, if any."""
    if isinstance(event, RequiredInventoriesRecorded):
        return event.activity_id
    if isinstance(event, OfsInventoryEvent) and event.activity is not None:
        activity_id = event.activity.activity_id
        return None if activity_id is None else str(activity_id)
    return None


def apply(activity: Activity | None, event: DomainEvent) -> Activity | None:
    """The activity after an event; None when the event tells nothing about one."""
    activity_id = activity_of(event)
    if activity_id is None:
        return None
    known = activity or Activity(activity_id=activity_id)
    if isinstance(event, RequiredInventoriesRecorded):
        return Activity(
            activity_id=activity_id,
            resource_id=event.resource_id or known.resource_id,
            date=event.date or known.date,
            lines=None if event.unknown is not None else event.lines,
            unknown=event.unknown,
            read_at=event.occurred_at,
        )
    assert isinstance(event, OfsInventoryEvent)
    assert event.activity is not None
    details = event.activity
    return msgspec.structs.replace(
        known,
        resource_id=details.resource_id or known.resource_id,
        date=details.date or known.date,
    )


def is_news(activity: Activity | None, event: RequiredInventoriesRecorded) -> bool:
    """Whether a read of required inventories changes what is known of the
    activity (when it was read aside): a scheduled reader stores only those."""
    after = apply(activity, event)
    if activity is None or after is None:
        return True
    return msgspec.structs.replace(after, read_at=activity.read_at) != activity


def fold(
    activities: dict[str, Activity], events: Iterable[tuple[int, DomainEvent]]
) -> dict[str, Activity]:
    """Apply events in order to `activities` (in place, holding at least the
    known activities they name); the activities they changed."""
    changed: dict[str, Activity] = {}
    for _, event in events:
        activity_id = activity_of(event)
        if activity_id is None:
            continue
        after = apply(activities.get(activity_id), event)
        if after is not None and after != activities.get(activity_id):
            activities[activity_id] = changed[activity_id] = after
    return changed


def merged(lines: Iterable[RequiredLine]) -> list[tuple[RequiredLine, str]]:
    """Required lines with their product, lines of one product summed into the first."""
    by_product: dict[str, RequiredLine] = {}
    for line in lines:
        product = product_id(line.inventory_type, line.model)
        first = by_product.get(product)
        by_product[product] = (
            line
            if first is None
            else msgspec.structs.replace(first, quantity=first.quantity + line.quantity)
        )
    return [(line, product) for product, line in by_product.items()]


def needed(activity: Activity) -> list[StockKey]:
    """The (resource, product) rows whose on-hand quantities its readiness reads."""
    if activity.resource_id is None or activity.lines is None:
        return []
    return [StockKey(activity.resource_id, product) for _, product in merged(activity.lines)]


def readiness(activity: Activity, on_hand: Callable[[StockKey], Decimal]) -> Readiness:
    """The activity's readiness, with `on_hand` giving a (resource, product)'s quantity."""
    base = Readiness(
        activity_id=activity.activity_id,
        resource_id=activity.resource_id,
        date=activity.date,
        ready=False,
        status="unknown",
    )
    if activity.lines is None:
        return msgspec.structs.replace(base, reason=activity.unknown or NOT_READ)
    lines = tuple(
        _line(line, product, activity.resource_id, on_hand)
        for line, product in merged(activity.lines)
    )
    ready = all(line.missing == 0 for line in lines)
    reason = None if activity.resource_id else "no resource is assigned"
    return msgspec.structs.replace(
        base, ready=ready, status="ready" if ready else "missing", reason=reason, lines=lines
    )


def _line(
    line: RequiredLine,
    product: str,
    resource_id: str | None,
    on_hand: Callable[[StockKey], Decimal],
) -> ReadinessLine:
    held = on_hand(StockKey(resource_id, product)) if resource_id else Decimal(0)
    available = max(held, Decimal(0))
    return ReadinessLine(
        inventory_type=line.inventory_type,
        model=line.model,
        product=product,
        required=line.quantity,
        available=available,
        missing=max(line.quantity - available, Decimal(0)),
    )


def not_ready_on(
    activities: Iterable[Activity],
    on_hand: Callable[[StockKey], Decimal],
    date: str,
    resource_id: str | None = None,
) -> list[Readiness]:
    """The activities scheduled on `date` (of one resource, when given) that
    are not ready, by resource and activity."""
    found = [
        readiness(activity, on_hand)
        for activity in activities
        if activity.date == date and (resource_id is None or activity.resource_id == resource_id)
    ]
    return sorted(
        (entry for entry in found if not entry.ready),
        key=lambda entry: (entry.resource_id or "", entry.activity_id),
    )

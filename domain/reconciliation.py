"""Reconciliation: an item as invtrack holds it against the same item as the
vendor reports it now, field by field.

What is compared, for an item present on both sides: the pool, the owner that
pool is held by (`resourceId` when either side has it in a resource's pool,
`activityId` when either side has it in an activity's install, deinstall or
customer pool), the quantity (as a decimal value: `15` and `15.0` agree; a
quantity the vendor states as `null` is missing, and differs from any), the
serial number and the inventory type. An item on one side only differs in
`item` (`present` against `absent`). A reconciliation reports; it never
changes stock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Final

import msgspec

from domain.items import Item

ACTIVITY_POOLS: Final = ("install", "deinstall", "customer")
PRESENT: Final = "present"
ABSENT: Final = "absent"


class Holding(msgspec.Struct, frozen=True, kw_only=True):
    """Where an item is and what it is, on one side of a comparison."""

    pool: str | None
    resource_id: str | None = None
    activity_id: str | None = None
    quantity: Decimal | None = Decimal(1)
    """None: the vendor states no quantity (`null`), reported as missing."""
    serial_number: str | None = None
    inventory_type: str | None = None


class Drift(msgspec.Struct, frozen=True, kw_only=True):
    """One field of one item that differs: invtrack's value and the vendor's."""

    key: str
    field: str
    ours: str | None
    theirs: str | None


class Reconciliation(msgspec.Struct, frozen=True, kw_only=True):
    """One run: what was compared, when, and every difference found."""

    source: str
    started_at: datetime
    finished_at: datetime
    resources: tuple[str, ...] = ()
    activities: tuple[str, ...] = ()
    compared: int = 0
    drifts: tuple[Drift, ...] = ()
    id: int | None = None

    @property
    def drifted(self) -> int:
        """How many items differ."""
        return len({drift.key for drift in self.drifts})


def holding_of(item: Item | None) -> Holding | None:
    """The item as invtrack holds it now; None when unknown or deleted."""
    if item is None or item.deleted or item.pool is None:
        return None
    return Holding(
        pool=item.pool,
        resource_id=item.resource_id,
        activity_id=item.activity_id,
        quantity=item.quantity,
        serial_number=item.serial_number or None,
        inventory_type=item.inventory_type,
    )


_FIELDS: Final[tuple[tuple[str, Callable[[Holding], object]], ...]] = (
    ("pool", lambda h: h.pool),
    ("resourceId", lambda h: h.resource_id),
    ("activityId", lambda h: h.activity_id),
    ("quantity", lambda h: h.quantity),
    ("serialNumber", lambda h: h.serial_number or None),
    ("inventoryType", lambda h: h.inventory_type),
)


def differences(key: str, ours: Holding | None, theirs: Holding | None) -> list[Drift]:
    """Every field in which invtrack's item differs from the vendor's, in a fixed order."""
    if ours is None or theirs is None:
        if ours is theirs:
            return []
        return [
            Drift(
                key=key,
                field="item",
                ours=ABSENT if ours is None else PRESENT,
                theirs=ABSENT if theirs is None else PRESENT,
            )
        ]
    pools = {ours.pool, theirs.pool}
    skipped = set()
    if "resource" not in pools:
        skipped.add("resourceId")
    if not pools & set(ACTIVITY_POOLS):
        skipped.add("activityId")
    return [
        Drift(key=key, field=name, ours=_text(value(ours)), theirs=_text(value(theirs)))
        for name, value in _FIELDS
        if name not in skipped and value(ours) != value(theirs)
    ]


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)

"""What the dashboard sums up from the items table: each technician's or
storage location's stock in one line, who holds a product, which product
codes there are. The records, and how a backend's rows become them (the
units are summed here, as exact decimals, from the quantities a row lists)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

import msgspec

from domain.items import Pool

UNITS_SEPARATOR: Final = " "
"""Between the quantities a row lists (quantities hold no spaces)."""


class FleetLine(msgspec.Struct, frozen=True, kw_only=True):
    """One technician or storage location: the lines of its own pool (not
    deleted), how many are negative, their units, and the last time an item
    naming it changed."""

    owner: str
    lines: int
    negative: int
    units: str
    last_change: datetime | None


class Holding(msgspec.Struct, frozen=True, kw_only=True):
    """The lines of one product in one pool of one holder, with their units
    and the last time one of them changed."""

    pool: Pool | None
    resource_id: str | None
    activity_id: str | None
    customer_number: str | None
    lines: int
    units: str
    last_change: datetime | None


def units(listed: str | None) -> str:
    """The sum of the quantities a row lists, exactly."""
    if not listed:
        return "0"
    total = sum((Decimal(each) for each in listed.split(UNITS_SEPARATOR)), Decimal(0))
    return str(total)


def fleet_lines(rows: Sequence[Sequence[Any]]) -> list[FleetLine]:
    """(owner, lines, negative, quantities, last change) rows as lines."""
    return [
        FleetLine(
            owner=row[0],
            lines=int(row[1]),
            negative=int(row[2] or 0),
            units=units(row[3]),
            last_change=row[4],
        )
        for row in rows
    ]


def holdings(rows: Sequence[Sequence[Any]]) -> list[Holding]:
    """(pool, resource, activity, customer, lines, quantities, last change)
    rows as holdings, by pool and holder."""
    found = [
        Holding(
            pool=row[0],
            resource_id=row[1],
            activity_id=row[2],
            customer_number=row[3],
            lines=int(row[4]),
            units=units(row[5]),
            last_change=row[6],
        )
        for row in rows
    ]
    return sorted(
        found,
        key=lambda h: (
            h.pool or "",
            h.resource_id or "",
            h.activity_id or "",
            h.customer_number or "",
        ),
    )

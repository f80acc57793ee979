"""Count variance: what ServiceMobility counts (RefModule 1004 full count,
1005 partial count) found against what invtrack expected.

Each count line carries, from when it was appended, `expected` (the stock
line's balance before the count) and `variance` (counted - expected). Over a
period (`start` <= event time < `end`), per (resource, product): the number
of counts, and the sums of expected, counted and variance. Per resource, the
shrinkage is the units lost: minus the sum of its products' negative
variances over the period (a product at -3 and one at +1 give 3; a product's
own ups and downs net out first, so a recount that finds the units again
takes them off). A count line stored without `expected` (none is known) is
counted in `unannotated` and left out of the sums, so variance always equals
counted - expected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec

from domain.events import StockUsageRecorded
from domain.signals.products import StockKey
from domain.sm_rules import is_count


class CountLine(msgspec.Struct, frozen=True, kw_only=True):
    """One count of one stock line, as the counts projection keeps it."""

    position: int
    occurred_at: datetime
    resource_id: str
    product: str
    counted: Decimal
    expected: Decimal | None = None
    variance: Decimal | None = None
    user: str | None = None


class ProductVariance(msgspec.Struct, frozen=True, kw_only=True):
    resource_id: str
    product: str
    counts: int
    expected: Decimal
    counted: Decimal
    variance: Decimal
    unannotated: int = 0


class ResourceShrinkage(msgspec.Struct, frozen=True, kw_only=True):
    resource_id: str
    shrinkage: Decimal


class VarianceReport(msgspec.Struct, frozen=True, kw_only=True):
    """Per (resource, product) by resource and product; per resource by resource."""

    products: tuple[ProductVariance, ...]
    resources: tuple[ResourceShrinkage, ...]


def count_line(position: int, event: StockUsageRecorded) -> CountLine | None:
    """The count a ledger line records; None when it is no count."""
    if not is_count(event):
        return None
    return CountLine(
        position=position,
        occurred_at=event.occurred_at,
        resource_id=event.location,
        product=event.product,
        counted=event.reported_quantity,
        expected=event.expected,
        variance=event.variance,
        user=event.user,
    )


def count_line_of_row(row: Mapping[str, Any]) -> CountLine:
    """A row of the counts projection (its column names; quantities as decimal text)."""
    return CountLine(
        position=int(row["position"]),
        occurred_at=row["occurred_at"],
        resource_id=row["location"],
        product=row["product"],
        counted=Decimal(row["counted"]),
        expected=_decimal(row.get("expected")),
        variance=_decimal(row.get("variance")),
        user=row.get("user_id"),
    )


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def within(
    line: CountLine,
    start: datetime | None = None,
    end: datetime | None = None,
    resource_id: str | None = None,
) -> bool:
    """Whether a count is in the period (`start` included, `end` not) and of the resource."""
    return (
        (start is None or line.occurred_at >= start)
        and (end is None or line.occurred_at < end)
        and (resource_id is None or line.resource_id == resource_id)
    )


class _Sums:
    def __init__(self) -> None:
        self.counts = 0
        self.unannotated = 0
        self.expected = Decimal(0)
        self.counted = Decimal(0)

    def add(self, line: CountLine) -> None:
        if line.expected is None:
            self.unannotated += 1
            return
        self.counts += 1
        self.expected += line.expected
        self.counted += line.counted


def variance_report(
    lines: Iterable[CountLine],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    resource_id: str | None = None,
) -> VarianceReport:
    """Variance per (resource, product) and shrinkage per resource over a period."""
    sums: dict[StockKey, _Sums] = {}
    for line in lines:
        if within(line, start, end, resource_id):
            sums.setdefault(StockKey(line.resource_id, line.product), _Sums()).add(line)
    products = tuple(
        ProductVariance(
            resource_id=key.resource_id,
            product=key.product,
            counts=total.counts,
            expected=total.expected,
            counted=total.counted,
            variance=total.counted - total.expected,
            unannotated=total.unannotated,
        )
        for key, total in sorted(sums.items())
    )
    return VarianceReport(products=products, resources=shrinkage(products))


def shrinkage(products: Iterable[ProductVariance]) -> tuple[ResourceShrinkage, ...]:
    """Per resource: minus the sum of its products' negative variances."""
    lost: dict[str, Decimal] = {}
    for product in products:
        lost[product.resource_id] = lost.get(product.resource_id, Decimal(0)) - min(
            product.variance, Decimal(0)
        )
    return tuple(
        ResourceShrinkage(resource_id=resource, shrinkage=units)
        for resource, units in sorted(lost.items())
    )

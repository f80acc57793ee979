"""What the stock rows answer: the low-stock list and a van's restock pick list.

- Low stock: every (resource, product) whose on-hand quantity is below its
  `min`, with `shortfall = min - onHand` and `since` (event time of the
  crossing below); largest shortfall first, then by resource and product.
- Restock: per product of one resource with a par level, `load = target -
  onHand` when it is above 0 (also when the product is not low: restocking
  brings a van to `target`, not to `min`); by product.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

import msgspec

from domain.signals.stock import StockRow


class LowStock(msgspec.Struct, frozen=True, kw_only=True):
    resource_id: str
    product: str
    on_hand: Decimal
    min: Decimal
    target: Decimal
    shortfall: Decimal
    since: datetime | None


class RestockLine(msgspec.Struct, frozen=True, kw_only=True):
    product: str
    on_hand: Decimal
    target: Decimal
    load: Decimal


def low_stock_entry(row: StockRow) -> LowStock | None:
    """The row as a low-stock entry; None when it is not low."""
    if row.level is None or not row.low:
        return None
    return LowStock(
        resource_id=row.resource_id,
        product=row.product,
        on_hand=row.on_hand,
        min=row.level.min,
        target=row.level.target,
        shortfall=row.shortfall,
        since=row.below_since,
    )


def low_stock_order(entry: LowStock) -> tuple[Decimal, str, str]:
    """The order of the low-stock list (a key for paging too): largest shortfall first."""
    return (-entry.shortfall, entry.resource_id, entry.product)


def low_stock(
    rows: Iterable[StockRow], *, resource_id: str | None = None, product: str | None = None
) -> list[LowStock]:
    """The low-stock list, optionally of one resource and / or one product."""
    entries = [
        entry
        for row in rows
        if (resource_id is None or row.resource_id == resource_id)
        and (product is None or row.product == product)
        and (entry := low_stock_entry(row)) is not None
    ]
    return sorted(entries, key=low_stock_order)


def restock_line(row: StockRow) -> RestockLine | None:
    """The row as a pick line; None when nothing is to be loaded."""
    if row.level is None or row.load <= 0:
        return None
    return RestockLine(
        product=row.product, on_hand=row.on_hand, target=row.level.target, load=row.load
    )


def restock(rows: Iterable[StockRow], resource_id: str) -> list[RestockLine]:
    """The pick list that brings one resource to its targets."""
    lines = [
        line
        for row in rows
        if row.resource_id == resource_id and (line := restock_line(row)) is not None
    ]
    return sorted(lines, key=lambda line: line.product)

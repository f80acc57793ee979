"""Stock rules for ServiceMobility InventoryUsage lines (docs/vendors.md, "ServiceMobility")."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Final

import msgspec

from domain.events import StockUsageRecorded
from domain.items import Item, Pool, stock_line_key

WORK_ORDER: Final = "1002"
COUNTS: Final = frozenset({"1004", "1005"})
REF_MODULES: Final[dict[str, str]] = {
    "1001": "inventory load",
    "1002": "work order",
    "1003": "inventory transfer",
    "1004": "full count",
    "1005": "partial count",
    "1006": "disposition adjustment",
    "1007": "automatic adjustment",
    "1008": "manual adjustment",
}


def resource_key(line: StockUsageRecorded) -> str:
    return stock_line_key("resource", line.location, line.product, line.serial, line.batch)


def install_key(line: StockUsageRecorded) -> str:
    return stock_line_key("install", line.ref_object, line.product, line.serial, line.batch)


def installs(line: StockUsageRecorded) -> bool:
    """A work order's OutQty also lands in the install pool of the work order."""
    return line.ref_module == WORK_ORDER and line.quantity_out != 0


def is_count(line: StockUsageRecorded) -> bool:
    return line.ref_module in COUNTS


def touched_keys(line: StockUsageRecorded) -> tuple[str, ...]:
    # Spelled out: asked once for every stock event a rebuild reads.
    resource = stock_line_key("resource", line.location, line.product, line.serial, line.batch)
    if line.ref_module == WORK_ORDER and line.quantity_out != 0:
        installed = stock_line_key(
            "install", line.ref_object, line.product, line.serial, line.batch
        )
        return (resource, installed)
    return (resource,)


def annotate(line: StockUsageRecorded, balance: Decimal | None) -> StockUsageRecorded:
    """Record on a count the balance it replaced and the variance (counted - expected)."""
    if not is_count(line):
        return line
    expected = balance if balance is not None else Decimal(0)
    return msgspec.structs.replace(
        line, expected=expected, variance=line.reported_quantity - expected
    )


def apply(items: Mapping[str, Item], line: StockUsageRecorded, position: int) -> list[Item]:
    """The stock lines after one ledger line.

    Resource pool: balance += InQty - OutQty, or becomes the counted quantity on
    a count. Work orders also add OutQty to the work order's install pool. A
    balance may go negative; it is shown, never rejected.
    """
    key = resource_key(line)
    stock = items.get(key) or _new_line(key, "resource", line, resource_id=line.location)
    if is_count(line):
        balance = line.reported_quantity
    else:
        balance = stock.quantity + line.quantity_in - line.quantity_out
    changed = [_moved(stock, balance, line, position)]
    if installs(line):
        key = install_key(line)
        installed = items.get(key) or _new_line(
            key, "install", line, resource_id=line.location, activity_id=line.ref_object
        )
        changed.append(
            msgspec.structs.replace(
                _moved(installed, installed.quantity + line.quantity_out, line, position),
                resource_id=line.location,
            )
        )
    return changed


def _new_line(
    key: str,
    pool: Pool,
    line: StockUsageRecorded,
    *,
    resource_id: str,
    activity_id: str | None = None,
) -> Item:
    return Item(
        key=key,
        source="servicemobility",
        pool=pool,
        product_number=line.product,
        serial_number=line.serial,
        batch_number=line.batch,
        quantity=Decimal(0),
        resource_id=resource_id,
        activity_id=activity_id,
    )


def _moved(item: Item, quantity: Decimal, line: StockUsageRecorded, position: int) -> Item:
    return msgspec.structs.replace(
        item, quantity=quantity, position=position, updated_at=line.occurred_at
    )

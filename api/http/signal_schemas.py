"""The stock signals' answers, as the API writes them: camelCase, quantities
as exact decimal strings, times in UTC."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from domain.quantities import decimal_text
from domain.signals.readiness import Readiness
from domain.signals.restock import LowStock, RestockLine
from domain.signals.stock import StockRow
from domain.signals.transfers import Status, Transfer
from domain.signals.variance import VarianceReport


class _Out(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    pass


class LowStockOut(_Out, frozen=True, kw_only=True):
    resource_id: str
    product: str
    on_hand: str
    min: str
    target: str
    shortfall: str
    since: datetime | None


class LowStockList(_Out, frozen=True, kw_only=True):
    items: list[LowStockOut]
    next_cursor: str | None


class RestockOut(_Out, frozen=True, kw_only=True):
    product: str
    on_hand: str
    target: str
    load: str


class RestockList(_Out, frozen=True, kw_only=True):
    resource_id: str
    items: list[RestockOut]


class ParLevelOut(_Out, frozen=True, kw_only=True):
    product: str
    min: str
    target: str
    on_hand: str
    origin: Literal["recommendation", "manual"]
    set_at: datetime


class ParLevelList(_Out, frozen=True, kw_only=True, omit_defaults=True):
    resource_id: str
    items: list[ParLevelOut]
    position: int | None = None
    """The store position of the change, in the answer to a PUT."""


class ParLevelIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    product: str
    target: str | int | float
    min: str | int | float | None = None


class ParLevelsIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    items: list[ParLevelIn]


class ProductVarianceOut(_Out, frozen=True, kw_only=True):
    resource_id: str
    product: str
    counts: int
    expected: str
    counted: str
    variance: str


class ShrinkageOut(_Out, frozen=True, kw_only=True):
    resource_id: str
    shrinkage: str


class VarianceOut(_Out, frozen=True, kw_only=True):
    from_: datetime | None = msgspec.field(name="from")
    to: datetime | None
    products: list[ProductVarianceOut]
    resources: list[ShrinkageOut]


class TransferItemOut(_Out, frozen=True, kw_only=True):
    product: str
    serial_number: str | None
    batch_number: str | None
    sent: str
    received: str


class TransferOut(_Out, frozen=True, kw_only=True):
    code: str
    from_: list[str] = msgspec.field(name="from")
    to: list[str]
    items: list[TransferItemOut]
    first_seen: datetime
    last_seen: datetime
    status: Status


class TransferList(_Out, frozen=True, kw_only=True):
    items: list[TransferOut]


class ReadinessLineOut(_Out, frozen=True, kw_only=True):
    inventory_type: str
    model: str | None
    required: str
    available: str
    missing: str


class ReadinessOut(_Out, frozen=True, kw_only=True):
    activity_id: str
    resource_id: str | None
    date: str | None
    ready: bool
    status: Literal["ready", "missing", "unknown"]
    reason: str | None
    lines: list[ReadinessLineOut]


class ReadinessList(_Out, frozen=True, kw_only=True):
    date: str
    items: list[ReadinessOut]


def low_stock_out(entry: LowStock) -> LowStockOut:
    return LowStockOut(
        resource_id=entry.resource_id,
        product=entry.product,
        on_hand=decimal_text(entry.on_hand),
        min=decimal_text(entry.min),
        target=decimal_text(entry.target),
        shortfall=decimal_text(entry.shortfall),
        since=entry.since,
    )


def restock_out(line: RestockLine) -> RestockOut:
    return RestockOut(
        product=line.product,
        on_hand=decimal_text(line.on_hand),
        target=decimal_text(line.target),
        load=decimal_text(line.load),
    )


def par_levels_out(resource_id: str, rows: list[StockRow]) -> ParLevelList:
    return ParLevelList(
        resource_id=resource_id,
        items=[
            ParLevelOut(
                product=row.product,
                min=decimal_text(row.level.min),
                target=decimal_text(row.level.target),
                on_hand=decimal_text(row.on_hand),
                origin=row.level.origin,
                set_at=row.level.set_at,
            )
            for row in rows
            if row.level is not None
        ],
    )


def variance_out(
    report: VarianceReport, start: datetime | None, end: datetime | None
) -> VarianceOut:
    return VarianceOut(
        from_=start,
        to=end,
        products=[
            ProductVarianceOut(
                resource_id=p.resource_id,
                product=p.product,
                counts=p.counts,
                expected=decimal_text(p.expected),
                counted=decimal_text(p.counted),
                variance=decimal_text(p.variance),
            )
            for p in report.products
        ],
        resources=[
            ShrinkageOut(resource_id=r.resource_id, shrinkage=decimal_text(r.shrinkage))
            for r in report.resources
        ],
    )


def transfer_out(transfer: Transfer, status: Status) -> TransferOut:
    return TransferOut(
        code=transfer.code,
        from_=list(transfer.from_locations),
        to=list(transfer.to_locations),
        items=[
            TransferItemOut(
                product=item.product,
                serial_number=item.serial,
                batch_number=item.batch,
                sent=decimal_text(item.sent),
                received=decimal_text(item.received),
            )
            for item in transfer.items
        ],
        first_seen=transfer.first_seen,
        last_seen=transfer.last_seen,
        status=status,
    )


def readiness_out(found: Readiness) -> ReadinessOut:
    return ReadinessOut(
        activity_id=found.activity_id,
        resource_id=found.resource_id,
        date=found.date,
        ready=found.ready,
        status=found.status,
        reason=found.reason,
        lines=[
            ReadinessLineOut(
                inventory_type=line.inventory_type,
                model=line.model,
                required=decimal_text(line.required),
                available=decimal_text(line.available),
                missing=decimal_text(line.missing),
            )
            for line in found.lines
        ],
    )

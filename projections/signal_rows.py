"""The stock signals' values as rows of their tables and back, and the
crossings as change-feed entries."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Final, cast

import msgspec

from adapters.store import Row
from adapters.store.feed import FeedDraft
from adapters.store.signal_tables import StockRecord, stock_key
from domain.events import DomainEvent, OfsInventoryEvent, ParLevelsSet
from domain.quantities import decimal_text
from domain.signals.low_stock import StockSignal
from domain.signals.par_levels import Origin, ParLevel
from domain.signals.readiness import Activity
from domain.signals.stock import StockRow
from domain.signals.transfers import Transfer

_encode = msgspec.json.Encoder().encode
_transfer = msgspec.json.Decoder(Transfer).decode
_activity = msgspec.json.Decoder(Activity).decode
SIGNAL_SOURCE: Final = "invtrack"
"""The `source` of a crossing made by a par level set by hand."""


def stock_of(record: StockRecord) -> StockRow:
    level = None
    if record.target is not None:
        assert record.min is not None
        assert record.set_at is not None
        level = ParLevel(
            min=Decimal(record.min),
            target=Decimal(record.target),
            origin=cast(Origin, record.origin),
            set_at=record.set_at,
            position=record.level_position or 0,
        )
    return StockRow(
        resource_id=record.resource_id,
        product=record.product,
        on_hand=Decimal(record.on_hand),
        level=level,
        below_since=record.below_since,
    )


def row_of_stock(row: StockRow) -> Row:
    """A stock row as a row of STOCK_COLUMNS; `rank` is minus the shortfall
    while it is low, else None (the low-stock order)."""
    level = row.level
    if level is None:
        return (
            stock_key(row.resource_id, row.product),
            row.resource_id,
            row.product,
            decimal_text(row.on_hand),
            None,
            None,
            None,
            None,
            None,
            row.below_since,
            None,
        )
    return (
        stock_key(row.resource_id, row.product),
        row.resource_id,
        row.product,
        decimal_text(row.on_hand),
        decimal_text(level.min),
        decimal_text(level.target),
        level.origin,
        level.set_at,
        level.position,
        row.below_since,
        -float(level.min - row.on_hand) if row.on_hand < level.min else None,
    )


def stock_of_row(row: Sequence[Any]) -> StockRow:
    """A row of STOCK_COLUMNS as the stock row: `stock_of(stock_record(row))`,
    without the record between (every row a batch reads comes this way)."""
    _, resource_id, product, on_hand, min_, target, origin, set_at, position, since, _ = row
    level = None
    if target is not None:
        level = ParLevel(
            min=Decimal(min_),
            target=Decimal(target),
            origin=origin,
            set_at=set_at,
            position=0 if position is None else int(position),
        )
    return StockRow(
        resource_id=resource_id,
        product=product,
        on_hand=Decimal(on_hand),
        level=level,
        below_since=since,
    )


def transfer_row(transfer: Transfer) -> Row:
    mismatched = any(item.sent != item.received for item in transfer.items)
    data = _encode(transfer).decode()
    return (transfer.code, transfer.first_seen, transfer.halves, mismatched, data)


def transfer_of(data: str) -> Transfer:
    return _transfer(data)


def activity_row(activity: Activity) -> Row:
    return (activity.activity_id, activity.resource_id, activity.date, _encode(activity).decode())


def activity_of(data: str) -> Activity:
    return _activity(data)


def source_of(event: DomainEvent) -> str:
    """What the feed's `source` filter matches for an entry the event caused."""
    if isinstance(event, OfsInventoryEvent):
        return "ofs"
    if isinstance(event, ParLevelsSet):
        return SIGNAL_SOURCE
    return "servicemobility"


class SignalData(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A crossing entry's `data`."""

    resource_id: str
    product: str
    on_hand: str
    min: str
    target: str
    shortfall: str


def signal_entry(signal: StockSignal, source: str) -> FeedDraft:
    """The change-feed entry of a crossing; its id is the same whenever the
    crossing is made into an entry."""
    kind = signal.type.rsplit(".", 1)[-1]
    return FeedDraft(
        id=f"{signal.position}-{kind}-{signal.subject}",
        type=signal.type,
        subject=signal.subject,
        source=source,
        time=signal.at,
        event_position=signal.position,
        data=SignalData(
            resource_id=signal.resource_id,
            product=signal.product,
            on_hand=decimal_text(signal.on_hand),
            min=decimal_text(signal.min),
            target=decimal_text(signal.target),
            shortfall=decimal_text(max(signal.min - signal.on_hand, Decimal(0))),
        ),
        owners=(("resource", signal.resource_id),),
    )

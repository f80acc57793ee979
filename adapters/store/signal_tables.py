"""The stock signals' tables, one set per slot, and how their rows map to the
records the signal queries answer.

- `stock`: one row per (resource, product) with an on-hand quantity, a par
  level or a time it went below `min`. `key` is the JSON text of
  `[resourceId, product]`; quantities are decimal text. `rank` is minus the
  shortfall while the row is low (NULL otherwise), so the low-stock list is
  an index scan in (rank, resource, product) order.
- `transfers`: one row per transfer code, the transfer as JSON, with the
  columns its status is read from (`halves`, `mismatched`, `first_seen`).
- `activities`: one row per OFS activity, as JSON, with its resource and date.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import msgspec
from sqlalchemy import Boolean, Column, Float, Index, Integer, MetaData, String, Table, Text

from adapters.store.records import Slot
from adapters.store.types import Position, UtcDateTime

SIGNALS: Final = "signals"
"""The projection whose tables these are."""

STOCK_COLUMNS: Final = (
    "key",
    "resource_id",
    "product",
    "on_hand",
    "min",
    "target",
    "origin",
    "set_at",
    "level_position",
    "below_since",
    "rank",
)
TRANSFER_COLUMNS: Final = ("code", "first_seen", "halves", "mismatched", "data")
ACTIVITY_COLUMNS: Final = ("activity_id", "resource_id", "date", "data")

_encode = msgspec.json.Encoder().encode


def stock_key(resource_id: str, product: str) -> str:
    """The `key` column of a (resource, product)."""
    return _encode([resource_id, product]).decode()


class StockRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A row of the stock table (quantities as decimal text)."""

    resource_id: str
    product: str
    on_hand: str
    min: str | None = None
    target: str | None = None
    origin: str | None = None
    set_at: datetime | None = None
    level_position: int | None = None
    below_since: datetime | None = None


def stock_record(row: Sequence[Any]) -> StockRecord:
    """A row of STOCK_COLUMNS as the record."""
    return StockRecord(
        resource_id=row[1],
        product=row[2],
        on_hand=row[3],
        min=row[4],
        target=row[5],
        origin=row[6],
        set_at=row[7],
        level_position=None if row[8] is None else int(row[8]),
        below_since=row[9],
    )


@functools.cache
def signal_tables(slot: Slot) -> tuple[Table, Table, Table]:
    """The stock, transfers and activities tables of a slot (the same objects
    for the life of the process)."""
    metadata = MetaData()
    stock_name = slot.table("stock")
    stock = Table(
        stock_name,
        metadata,
        Column("key", Text, primary_key=True),
        Column("resource_id", Text, nullable=False),
        Column("product", Text, nullable=False),
        Column("on_hand", Text, nullable=False),
        Column("min", Text),
        Column("target", Text),
        Column("origin", String(16)),
        Column("set_at", UtcDateTime()),
        Column("level_position", Position),
        Column("below_since", UtcDateTime()),
        Column("rank", Float()),
        Index(f"{stock_name}_resource", "resource_id", "product"),
        Index(f"{stock_name}_low", "rank", "resource_id", "product"),
    )
    transfers_name = slot.table("transfers")
    transfers = Table(
        transfers_name,
        metadata,
        Column("code", Text, primary_key=True),
        Column("first_seen", UtcDateTime(), nullable=False),
        Column("halves", Integer, nullable=False),
        Column("mismatched", Boolean, nullable=False),
        Column("data", Text, nullable=False),
        Index(f"{transfers_name}_seen", "first_seen", "code"),
    )
    activities_name = slot.table("activities")
    activities = Table(
        activities_name,
        metadata,
        Column("activity_id", Text, primary_key=True),
        Column("resource_id", Text),
        Column("date", String(10)),
        Column("data", Text, nullable=False),
        Index(f"{activities_name}_date", "date", "resource_id", "activity_id"),
    )
    return stock, transfers, activities

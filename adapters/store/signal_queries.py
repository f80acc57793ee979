"""Reads of the stock signals' tables, as values (see `adapters.store.queries`)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import msgspec

from adapters.store.queries import Query
from adapters.store.signal_tables import SIGNALS, StockRecord


class ParSummary(msgspec.Struct, frozen=True, kw_only=True):
    """One resource's par levels: how many of its lines have one, how many
    of them are below `min`, and their shortfall in all (units)."""

    resource_id: str
    levels: int
    below: int
    shortfall: float


class StockQuery(Query[list[StockRecord]], frozen=True, kw_only=True):
    """The stock rows of one resource, by product; only those of `products`
    when given."""

    projection: ClassVar[str] = SIGNALS
    resource_id: str
    products: tuple[str, ...] | None = None


class ParSummaryQuery(Query[list[ParSummary]], frozen=True, kw_only=True):
    """Every resource with a par level on at least one line, by resource;
    empty when no par level is set anywhere."""

    projection: ClassVar[str] = SIGNALS


class LowStockQuery(Query[list[tuple[float, StockRecord]]], frozen=True, kw_only=True):
    """Up to `limit` low rows, each with its rank (minus its shortfall), in
    (rank, resource, product) order after `after`; of one resource and / or
    one product when given."""

    projection: ClassVar[str] = SIGNALS
    resource_id: str | None = None
    product: str | None = None
    after: tuple[float, str, str] | None = None
    limit: int = 100


class TransfersQuery(Query[list[str]], frozen=True, kw_only=True):
    """Transfers as JSON text, oldest first (by first seen, then code), up
    to `limit`: with that many halves, mismatched or not, first seen before
    or from a time, when given."""

    projection: ClassVar[str] = SIGNALS
    halves: int | None = None
    mismatched: bool | None = None
    seen_before: datetime | None = None
    seen_since: datetime | None = None
    limit: int = 1000


class ActivityQuery(Query["str | None"], frozen=True, kw_only=True):
    """One activity as JSON text; None when none is known."""

    projection: ClassVar[str] = SIGNALS
    activity_id: str


class ActivitiesOnQuery(Query[list[str]], frozen=True, kw_only=True):
    """The activities scheduled on `date` (of one resource when given), as
    JSON text, by resource and activity, up to `limit`."""

    projection: ClassVar[str] = SIGNALS
    date: str
    resource_id: str | None = None
    limit: int = 5000

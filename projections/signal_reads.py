"""The read side of the stock signals: low stock, a van's pick list, count
variance, transfers and parts readiness, each from query values for the
store (`adapters.store.signal_queries`) and the rules of `domain.signals`."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final

import msgspec

from adapters.store import Reader
from adapters.store.queries import CountsQuery
from adapters.store.signal_queries import (
    ActivitiesOnQuery,
    ActivityQuery,
    LowStockQuery,
    StockQuery,
    TransfersQuery,
)
from domain.signals import readiness as ready
from domain.signals import transfers as moving
from domain.signals.products import StockKey
from domain.signals.readiness import Readiness
from domain.signals.restock import LowStock, RestockLine, low_stock_entry, restock
from domain.signals.stock import StockRow
from domain.signals.transfers import Status, Transfer
from domain.signals.variance import CountLine, VarianceReport, variance_report
from projections.signal_rows import activity_of, stock_of, transfer_of

COUNTS_READ: Final = 100_000
"""Counts a variance report reads at most."""


class LowStockPage(msgspec.Struct, frozen=True):
    entries: list[LowStock]
    last: tuple[float, str, str] | None
    """Where the next page starts when more may follow."""


class SignalReads:
    def __init__(self, store: Reader) -> None:
        self.store = store

    async def low_stock(
        self,
        *,
        resource_id: str | None = None,
        product: str | None = None,
        after: tuple[float, str, str] | None = None,
        limit: int = 100,
    ) -> LowStockPage:
        query = LowStockQuery(resource_id=resource_id, product=product, after=after, limit=limit)
        found = await self.store.fetch(query)
        entries = [
            entry for _, record in found if (entry := low_stock_entry(stock_of(record))) is not None
        ]
        last = None
        if len(found) == limit:
            rank, record = found[-1]
            last = (rank, record.resource_id, record.product)
        return LowStockPage(entries, last)

    async def stock(
        self, resource_id: str, products: tuple[str, ...] | None = None
    ) -> list[StockRow]:
        records = await self.store.fetch(StockQuery(resource_id=resource_id, products=products))
        return [stock_of(record) for record in records]

    async def restock(self, resource_id: str) -> list[RestockLine]:
        return restock(await self.stock(resource_id), resource_id)

    async def variance(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        resource_id: str | None = None,
    ) -> VarianceReport:
        lines = await self.count_lines(start=start, end=end, resource_id=resource_id)
        return variance_report(lines, start=start, end=end, resource_id=resource_id)

    async def count_lines(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        resource_id: str | None = None,
    ) -> list[CountLine]:
        """The counts of a period (of one resource), newest first."""
        query = CountsQuery(location=resource_id, since=start, until=end, limit=COUNTS_READ)
        return [
            CountLine(
                position=record.position,
                occurred_at=record.occurred_at,
                resource_id=record.location,
                product=record.product,
                counted=Decimal(record.counted),
                expected=None if record.expected is None else Decimal(record.expected),
                variance=None if record.variance is None else Decimal(record.variance),
                user=record.user_id,
            )
            for record in await self.store.fetch(query)
        ]

    async def transfers(
        self, now: datetime, window: timedelta, only: Status | None = None, limit: int = 1000
    ) -> list[tuple[Transfer, Status]]:
        cutoff = now - window
        query = {
            None: TransfersQuery(limit=limit),
            "open": TransfersQuery(halves=1, seen_before=cutoff, limit=limit),
            "pending": TransfersQuery(halves=1, seen_since=cutoff, limit=limit),
            "paired": TransfersQuery(halves=2, mismatched=False, limit=limit),
            "mismatched": TransfersQuery(halves=2, mismatched=True, limit=limit),
        }[only]
        found = [transfer_of(data) for data in await self.store.fetch(query)]
        return moving.listed(found, now, window, only)

    async def readiness(self, activity_id: str) -> Readiness | None:
        data = await self.store.fetch(ActivityQuery(activity_id=activity_id))
        if data is None:
            return None
        activity = activity_of(data)
        return ready.readiness(activity, await self._on_hand([activity]))

    async def not_ready_on(self, date: str, resource_id: str | None = None) -> list[Readiness]:
        found = await self.store.fetch(ActivitiesOnQuery(date=date, resource_id=resource_id))
        activities = [activity_of(data) for data in found]
        return ready.not_ready_on(activities, await self._on_hand(activities), date, resource_id)

    async def _on_hand(self, activities: list[ready.Activity]) -> OnHand:
        wanted: dict[str, set[str]] = {}
        for activity in activities:
            for key in ready.needed(activity):
                wanted.setdefault(key.resource_id, set()).add(key.product)
        held: dict[StockKey, Decimal] = {}
        for resource, products in wanted.items():
            for row in await self.stock(resource, tuple(sorted(products))):
                held[row.key] = row.on_hand
        return OnHand(held)


class OnHand:
    """On-hand quantities read for a readiness: 0 for what holds nothing."""

    def __init__(self, held: dict[StockKey, Decimal]) -> None:
        self.held = held

    def __call__(self, key: StockKey) -> Decimal:
        return self.held.get(key, Decimal(0))

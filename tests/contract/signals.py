"""The contract of the stock signals' queries: each query value gives, on
every backend, what the signals folded from the stored events say."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from adapters.store import NewEvent, Store
from adapters.store.feed import FeedFilter, FeedQuery
from adapters.store.signal_queries import (
    ActivitiesOnQuery,
    ActivityQuery,
    LowStockQuery,
    ParSummary,
    ParSummaryQuery,
    StockQuery,
    TransfersQuery,
)
from domain.events import (
    DomainEvent,
    ManualLevel,
    ParLevelsSet,
    RequiredInventoriesRecorded,
    RequiredLine,
    StockUsageRecorded,
    event_type,
)
from domain.fold import stream_of
from projections.signal_rows import activity_of, transfer_of
from tests.contract.support import T0

HOUR = timedelta(hours=1)


def usage(location: str, product: str, at: int, *, got: str = "0", gave: str = "0") -> DomainEvent:
    return StockUsageRecorded(
        occurred_at=T0 + at * HOUR,
        location=location,
        product=product,
        quantity_in=Decimal(got),
        quantity_out=Decimal(gave),
        reported_quantity=Decimal(0),
        ref_module="1001",
        ref_object=f"LOAD-{at}",
    )


def transfer(location: str, code: str, at: int, *, got: str = "0", gave: str = "0") -> DomainEvent:
    return StockUsageRecorded(
        occurred_at=T0 + at * HOUR,
        location=location,
        product="CBL-CAT6",
        quantity_in=Decimal(got),
        quantity_out=Decimal(gave),
        reported_quantity=Decimal(0),
        ref_module="1003",
        ref_object=code,
    )


def levels(resource: str, at: int, *pairs: tuple[str, str, str | None]) -> DomainEvent:
    return ParLevelsSet(
        occurred_at=T0 + at * HOUR,
        resource_id=resource,
        levels=tuple(
            ManualLevel(
                product=product,
                target=Decimal(target),
                min=None if low is None else Decimal(low),
            )
            for product, target, low in pairs
        ),
    )


async def append(store: Store, *events: DomainEvent) -> list[int]:
    stored = await store.append(
        [
            NewEvent(
                stream_id=stream_of(event),
                type=event_type(event),
                data=event,
                occurred_at=event.occurred_at,
                dedupe_key=f"contract-signal-{n}-{event.occurred_at.isoformat()}",
            )
            for n, event in enumerate(events)
        ]
    )
    return [event.position for event in stored]


class SignalsContract:
    async def test_stock_rows_and_the_low_list_in_shortfall_order(self, store: Store) -> None:
        await append(
            store,
            usage("VAN-1", "A", 0, got="2"),
            usage("VAN-1", "B", 0, got="9"),
            usage("VAN-2", "A", 0, got="1"),
            levels("VAN-1", 1, ("A", "10", "5"), ("B", "10", None)),
            levels("VAN-2", 1, ("A", "4", None)),
        )

        rows = await store.fetch(StockQuery(resource_id="VAN-1"))
        assert [(r.product, r.on_hand, r.min, r.target, r.origin) for r in rows] == [
            ("A", "2", "5", "10", "manual"),
            ("B", "9", "10", "10", "manual"),
        ]
        assert rows[0].below_since == T0 + HOUR
        only = await store.fetch(StockQuery(resource_id="VAN-1", products=("B", "C")))
        assert [r.product for r in only] == ["B"]
        low = await store.fetch(LowStockQuery())
        assert [(rank, r.resource_id, r.product) for rank, r in low] == [
            (-3.0, "VAN-1", "A"),
            (-3.0, "VAN-2", "A"),
            (-1.0, "VAN-1", "B"),
        ]
        page = await store.fetch(LowStockQuery(after=(-3.0, "VAN-1", "A"), limit=1))
        assert [(r.resource_id, r.product) for _, r in page] == [("VAN-2", "A")]
        mine = await store.fetch(LowStockQuery(resource_id="VAN-2", product="A"))
        assert [(r.resource_id, r.product) for _, r in mine] == [("VAN-2", "A")]

    async def test_par_summaries_per_resource(self, store: Store) -> None:
        assert await store.fetch(ParSummaryQuery()) == []
        await append(
            store,
            usage("VAN-1", "A", 0, got="2"),
            usage("VAN-1", "B", 0, got="9"),
            usage("VAN-1", "C", 0, got="1"),
            usage("VAN-2", "A", 0, got="7"),
            usage("VAN-3", "A", 0, got="1"),
            levels("VAN-1", 1, ("A", "10", "5"), ("B", "10", None), ("D", "3", "1.5")),
            levels("VAN-2", 1, ("A", "4", None)),
        )

        assert await store.fetch(ParSummaryQuery()) == [
            ParSummary(resource_id="VAN-1", levels=3, below=3, shortfall=5.5),
            ParSummary(resource_id="VAN-2", levels=1, below=0, shortfall=0.0),
        ]

    async def test_crossings_are_feed_entries_once_per_crossing(self, store: Store) -> None:
        positions = await append(
            store,
            levels("VAN-1", 0, ("A", "5", None)),
            usage("VAN-1", "A", 1, got="2"),
            usage("VAN-1", "A", 2, got="4"),
            usage("VAN-1", "A", 3, got="1"),
        )
        where = FeedFilter(types=("invtrack.stock.belowMin", "invtrack.stock.restored"))
        page = await store.read_feed(FeedQuery(where=where))
        assert [entry.type for entry in page.entries] == [
            "invtrack.stock.belowMin",
            "invtrack.stock.restored",
        ]
        assert [entry.entry for entry in page.entries][1].count(f'"id":"{positions[2]}-') == 1

    async def test_transfers_by_halves_mismatch_and_first_seen(self, store: Store) -> None:
        await append(
            store,
            transfer("VAN-1", "T-1", 0, gave="3"),
            transfer("VAN-2", "T-1", 1, got="3"),
            transfer("VAN-1", "T-2", 2, gave="3"),
            transfer("VAN-2", "T-2", 3, got="2"),
            transfer("VAN-1", "T-3", 4, gave="1"),
        )

        def codes(found: list[str]) -> list[str]:
            return [transfer_of(data).code for data in found]

        assert codes(await store.fetch(TransfersQuery())) == ["T-1", "T-2", "T-3"]
        assert codes(await store.fetch(TransfersQuery(halves=1))) == ["T-3"]
        assert codes(await store.fetch(TransfersQuery(halves=2, mismatched=True))) == ["T-2"]
        assert codes(await store.fetch(TransfersQuery(halves=2, mismatched=False))) == ["T-1"]
        before = T0 + 2 * HOUR
        assert codes(await store.fetch(TransfersQuery(seen_before=before))) == ["T-1"]
        assert codes(await store.fetch(TransfersQuery(seen_since=before, limit=1))) == ["T-2"]

    async def test_activities_by_id_and_by_date(self, store: Store) -> None:
        line = RequiredLine(inventory_type="PART", quantity=Decimal(2))
        await append(
            store,
            RequiredInventoriesRecorded(
                occurred_at=T0, activity_id="41", resource_id="R1", date="2026-11-21", lines=(line,)
            ),
            RequiredInventoriesRecorded(
                occurred_at=T0, activity_id="42", resource_id="R2", date="2026-11-21"
            ),
            RequiredInventoriesRecorded(
                occurred_at=T0, activity_id="43", resource_id="R1", date="2026-11-22"
            ),
        )

        found = await store.fetch(ActivityQuery(activity_id="41"))
        assert found is not None
        assert activity_of(found).lines == (line,)
        assert await store.fetch(ActivityQuery(activity_id="44")) is None
        on = await store.fetch(ActivitiesOnQuery(date="2026-11-21"))
        assert [activity_of(data).activity_id for data in on] == ["41", "42"]
        mine = await store.fetch(ActivitiesOnQuery(date="2026-11-21", resource_id="R2"))
        assert [activity_of(data).activity_id for data in mine] == ["42"]

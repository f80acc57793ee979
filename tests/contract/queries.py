"""The contract of the projections' queries: each query value gives, on every
backend, what the fold of the stored events says."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from adapters.store import CountRecord, Delivery, ItemRecord, Store, StoredEvent
from adapters.store.queries import (
    CandidatesQuery,
    CountsQuery,
    FindQuery,
    HistoryQuery,
    ItemFilter,
    ItemQuery,
    ItemsQuery,
    KnownOwnersQuery,
    LinkedQuery,
    OwnersQuery,
)
from domain.events import (
    DomainEvent,
    Fact,
    InventoryInstalled,
    OfsActivity,
    OfsChanges,
    OfsDetails,
    ResourceInventoryCreated,
    StockUsageRecorded,
    from_data,
)
from domain.fold import fold
from projections.items import record_of
from tests.contract.support import T0, inbox_entry

HOUR = timedelta(hours=1)


def created(inventory_id: int, resource: str, kind: str, at: int, **details: Any) -> DomainEvent:
    return ResourceInventoryCreated(
        occurred_at=T0 + at * HOUR,
        inventory_id=inventory_id,
        details=OfsDetails(status="resource", inventory_type=kind, **details),
        changes=OfsChanges(resource_id=resource),
    )


def counted(location: str, quantity: str, at: int) -> DomainEvent:
    return StockUsageRecorded(
        occurred_at=T0 + at * HOUR,
        location=location,
        product="CBL-CAT6",
        quantity_in=Decimal(0),
        quantity_out=Decimal(0),
        reported_quantity=Decimal(quantity),
        ref_module="1004",
        ref_object=f"PI-{at}",
    )


HISTORY: tuple[DomainEvent, ...] = (
    created(1, "TECH_1", "MODEM", 0, serial_number="SN-1", properties={"XA_COND": "new"}),
    created(2, "TECH_1", "CABLE", 1, quantity=Decimal("5")),
    created(3, "TECH_2", "MODEM", 1),
    InventoryInstalled(
        occurred_at=T0 + 2 * HOUR,
        inventory_id=1,
        activity=OfsActivity(activity_id=41, resource_id="TECH_1", customer_number="C-9"),
    ),
    counted("VAN-1", "3", 3),
    counted("VAN-2", "-2", 4),
)


async def stored_history(store: Store) -> list[StoredEvent]:
    """The history above, committed one event a delivery; the events stored."""
    for number, event in enumerate(HISTORY):
        fact = Fact(event=event, dedupe_key=f"query-{number}")
        await store.commit([Delivery(inbox=inbox_entry(f"query-{number}"), facts=(fact,))])
    return await store.read_events()


def folded(events: list[StoredEvent]) -> dict[str, ItemRecord]:
    state = fold((event.position, from_data(event.data)) for event in events)
    return {key: record_of(item) for key, item in sorted(state.items())}


class QueriesContract:
    async def test_items_of_an_owner_by_filter_and_page(self, store: Store) -> None:
        items = folded(await stored_history(store))
        tech_1 = ItemFilter(owner_kind="resource", owner="TECH_1")

        assert await store.fetch(ItemsQuery(where=tech_1)) == [items["ofs-1"], items["ofs-2"]]
        in_pool = ItemFilter(owner_kind="resource", owner="TECH_1", pools=("resource",))
        assert await store.fetch(ItemsQuery(where=in_pool)) == [items["ofs-2"]]
        modems = ItemFilter(owner_kind="resource", owner="TECH_1", inventory_type="MODEM")
        assert await store.fetch(ItemsQuery(where=modems)) == [items["ofs-1"]]
        other_source = ItemFilter(owner_kind="resource", owner="TECH_1", source="servicemobility")
        assert await store.fetch(ItemsQuery(where=other_source)) == []
        assert await store.fetch(ItemsQuery(where=tech_1, limit=1)) == [items["ofs-1"]]
        assert await store.fetch(ItemsQuery(where=tech_1, after="ofs-1")) == [items["ofs-2"]]
        at_activity = ItemFilter(owner_kind="activity", owner="41", pools=("install",))
        assert await store.fetch(ItemsQuery(where=at_activity)) == [items["ofs-1"]]

    async def test_one_item_reads_back_as_the_fold_gives_it(self, store: Store) -> None:
        items = folded(await stored_history(store))

        installed = await store.fetch(ItemQuery(key="ofs-1"))
        assert installed == items["ofs-1"]
        assert installed is not None
        assert (installed.pool, installed.activity_id, installed.properties) == (
            "install",
            "41",
            {"XA_COND": "new"},
        )
        assert await store.fetch(ItemQuery(key="ofs-99")) is None
        below_zero = [record for record in items.values() if record.negative]
        assert len(below_zero) == 1
        assert await store.fetch(ItemQuery(key=below_zero[0].key)) == below_zero[0]

    async def test_find_by_key_or_serial_number(self, store: Store) -> None:
        items = folded(await stored_history(store))

        assert await store.fetch(FindQuery(keys=("SN-1",), serial="SN-1")) == [items["ofs-1"]]
        assert await store.fetch(FindQuery(keys=("ofs-2", "x"), serial="x")) == [items["ofs-2"]]
        assert await store.fetch(FindQuery(keys=("nothing",), serial="nothing")) == []

    async def test_owners_and_candidates(self, store: Store) -> None:
        await stored_history(store)

        assert await store.fetch(CandidatesQuery(owner_kind="resource", owner="TECH_1")) == [
            "ofs-1",
            "ofs-2",
        ]
        assert await store.fetch(CandidatesQuery(owner_kind="activity", owner="41")) == ["ofs-1"]
        assert await store.fetch(
            CandidatesQuery(owner_kind="resource", owner="TECH_1", after="ofs-1")
        ) == ["ofs-2"]
        assert await store.fetch(OwnersQuery(kind="resource", search="tech_")) == [
            "TECH_1",
            "TECH_2",
        ]
        # `_` and `%` are letters of the search, not patterns.
        assert await store.fetch(OwnersQuery(kind="resource", search="h_1")) == ["TECH_1"]
        assert await store.fetch(OwnersQuery(kind="resource", search="%")) == []
        assert await store.fetch(OwnersQuery(kind="resource", after="TECH_1", limit=1)) == [
            "TECH_2"
        ]
        everyone = await store.fetch(KnownOwnersQuery(kind="resource"))
        assert {"TECH_1", "TECH_2", "VAN-1", "VAN-2"} <= set(everyone)
        assert everyone == sorted(everyone)
        assert await store.fetch(KnownOwnersQuery(kind="resource", source="ofs")) == [
            "TECH_1",
            "TECH_2",
        ]
        assert await store.fetch(KnownOwnersQuery(kind="customer")) == ["C-9"]
        # Only owners of items changed since a time (ofs-1 was installed last).
        assert await store.fetch(
            KnownOwnersQuery(kind="resource", source="ofs", since=T0 + 2 * HOUR)
        ) == ["TECH_1"]
        assert await store.fetch(KnownOwnersQuery(kind="resource", since=T0 + 3 * HOUR)) == [
            "VAN-1",
            "VAN-2",
        ]
        assert await store.fetch(KnownOwnersQuery(kind="activity", since=T0 + 5 * HOUR)) == []

    async def test_history_and_linked_events(self, store: Store) -> None:
        events = await stored_history(store)
        first, second, _, installed = events[:4]

        assert await store.fetch(HistoryQuery(key="ofs-1")) == [first, installed]
        assert await store.fetch(HistoryQuery(key="ofs-1", after=first.position)) == [installed]
        assert await store.fetch(HistoryQuery(key="ofs-1", limit=1)) == [first]
        assert await store.fetch(HistoryQuery(key="ofs-99")) == []
        linked = await store.fetch(LinkedQuery(keys=("ofs-1", "ofs-2", "ofs-99"), until=T0 + HOUR))
        assert linked == [("ofs-1", first), ("ofs-2", second)]

    async def test_counts_newest_first_by_filter(self, store: Store) -> None:
        events = await stored_history(store)
        van_1, van_2 = events[4], events[5]

        counts = await store.fetch(CountsQuery())
        assert [count.position for count in counts] == [van_2.position, van_1.position]
        assert (counts[1].location, counts[1].counted, counts[1].ref_module) == (
            "VAN-1",
            "3",
            "1004",
        )
        assert counts[1].occurred_at == T0 + 3 * HOUR
        assert [c.location for c in await store.fetch(CountsQuery(location="VAN-1"))] == ["VAN-1"]
        since = CountsQuery(since=T0 + 4 * HOUR)
        assert [c.location for c in await store.fetch(since)] == ["VAN-2"]
        until = CountsQuery(until=T0 + 4 * HOUR)
        assert [c.location for c in await store.fetch(until)] == ["VAN-1"]
        below = CountsQuery(before=van_2.position)
        assert [c.location for c in await store.fetch(below)] == ["VAN-1"]
        one: list[CountRecord] = await store.fetch(CountsQuery(limit=1))
        assert len(one) == 1

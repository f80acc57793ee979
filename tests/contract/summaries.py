"""The contract of what the dashboard sums up: whether an owner was ever
seen, each technician's stock in one line, who holds a product, which
product codes there are; alike on every backend, from the history the
queries' contract stores."""

from __future__ import annotations

from datetime import timedelta

from adapters.store import Store
from adapters.store.queries import FleetQuery, HoldersQuery, OwnerSeenQuery, ProductsQuery
from adapters.store.summaries import FleetLine, Holding
from tests.contract.queries import stored_history
from tests.contract.support import T0

HOUR = timedelta(hours=1)


class SummariesContract:
    async def test_an_owner_seen_or_never_seen(self, store: Store) -> None:
        await stored_history(store)

        assert await store.fetch(OwnerSeenQuery(kind="resource", owner="TECH_1")) is True
        assert await store.fetch(OwnerSeenQuery(kind="resource", owner="VAN-2")) is True
        assert await store.fetch(OwnerSeenQuery(kind="activity", owner="41")) is True
        assert await store.fetch(OwnerSeenQuery(kind="customer", owner="C-9")) is True
        assert await store.fetch(OwnerSeenQuery(kind="resource", owner="TECH_9")) is False
        assert await store.fetch(OwnerSeenQuery(kind="customer", owner="TECH_1")) is False
        assert await store.fetch(OwnerSeenQuery(kind="resource", owner="tech_1")) is False

    async def test_the_fleet_in_one_line_a_technician(self, store: Store) -> None:
        await stored_history(store)

        fleet = await store.fetch(FleetQuery())
        assert fleet == [
            # ofs-1 left TECH_1's own pool when it was installed: its last
            # change still names TECH_1.
            FleetLine(owner="TECH_1", lines=1, negative=0, units="5", last_change=T0 + 2 * HOUR),
            FleetLine(owner="TECH_2", lines=1, negative=0, units="1", last_change=T0 + HOUR),
            FleetLine(owner="VAN-1", lines=1, negative=0, units="3", last_change=T0 + 3 * HOUR),
            FleetLine(owner="VAN-2", lines=1, negative=1, units="-2", last_change=T0 + 4 * HOUR),
        ]
        assert [line.owner for line in await store.fetch(FleetQuery(search="van"))] == [
            "VAN-1",
            "VAN-2",
        ]
        # `_` and `%` are letters of the search, not patterns.
        assert [line.owner for line in await store.fetch(FleetQuery(search="h_1"))] == ["TECH_1"]
        assert await store.fetch(FleetQuery(search="%")) == []

    async def test_who_holds_a_product(self, store: Store) -> None:
        await stored_history(store)

        modems = await store.fetch(HoldersQuery(product="MODEM"))
        assert modems == [
            Holding(
                pool="install",
                resource_id="TECH_1",
                activity_id="41",
                customer_number="C-9",
                lines=1,
                units="1",
                last_change=T0 + 2 * HOUR,
            ),
            Holding(
                pool="resource",
                resource_id="TECH_2",
                activity_id=None,
                customer_number=None,
                lines=1,
                units="1",
                last_change=T0 + HOUR,
            ),
        ]
        cat6 = await store.fetch(HoldersQuery(product="CBL-CAT6"))
        assert [(h.resource_id, h.units) for h in cat6] == [("VAN-1", "3"), ("VAN-2", "-2")]
        assert await store.fetch(HoldersQuery(product="cbl-cat6")) == []

    async def test_product_codes_by_search(self, store: Store) -> None:
        await stored_history(store)

        assert await store.fetch(ProductsQuery()) == ["CABLE", "CBL-CAT6", "MODEM"]
        assert await store.fetch(ProductsQuery(search="cat6")) == ["CBL-CAT6"]
        assert await store.fetch(ProductsQuery(search="C", limit=2)) == ["CABLE", "CBL-CAT6"]
        assert await store.fetch(ProductsQuery(search="_")) == []

"""The contract of maintenance: the projection registry, tables created,
written, looked up, emptied and dropped, the exclusive locks, a busy store,
events as stored for the folds, a history loaded in bulk, and queries across
a rebuild's switch."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from adapters.store import (
    AlreadyRunning,
    Lookup,
    NewEvent,
    Slot,
    Store,
    StoreBusy,
    StoredEvent,
    TableWrite,
    connect,
)
from adapters.store.projection_tables import (
    COUNT_COLUMNS,
    ITEM_COLUMNS,
    LINK_COLUMNS,
    counts_table,
    item_row,
    items_tables,
    links_table,
)
from adapters.store.queries import ItemQuery
from domain.events import event_type
from domain.items import Item
from projections.items import record_of
from projections.live import LiveProjector
from projections.rebuild import rebuild
from tests.contract.queries import stored_history
from tests.contract.support import T0, append, created, new_event, opened

SPARE = Slot(90)
"""A slot no projection uses."""


def item(key: str, quantity: str, position: int) -> Item:
    return Item(
        key=key, source="ofs", pool="resource", quantity=Decimal(quantity), position=position
    )


class MaintenanceContract:
    async def test_the_registry_round_trips(self, store: Store) -> None:
        async with store.maintaining(locked=True) as maintenance:
            slot = await maintenance.next_slot("spare", 3)
            await maintenance.register("spare", slot, "building")
            await maintenance.checkpoint("spare", slot, 17)
        assert slot == Slot(3, 1)
        (row,) = [row for row in await store.registered() if row.name == "spare"]
        assert (row.slot, row.state, row.position) == (slot, "building", 17)
        assert "spare" not in await store.active_slots()

        async with store.maintaining() as maintenance:
            assert await maintenance.next_slot("spare", 3) == Slot(3, 2)
            await maintenance.set_state("spare", slot, "active")
        assert (await store.active_slots())["spare"] == slot

    async def test_tables_are_created_written_looked_up_emptied_and_dropped(
        self, store: Store
    ) -> None:
        items, owners = items_tables(SPARE)
        links = links_table(SPARE)
        names = {items.name, owners.name, links.name}
        async with store.maintaining() as maintenance:
            await maintenance.create([items, owners, links], bare=True)
            await maintenance.drop_primary_key(links)
            await maintenance.write(
                [
                    TableWrite(items, ITEM_COLUMNS, [item_row(record_of(item("a", "1", 1)))]),
                    TableWrite(links, LINK_COLUMNS, [("a", 1), ("b", 2)]),
                ],
                copy=True,
            )
            await maintenance.finish([items, owners, links])
            assert names <= await maintenance.table_names()
        async with store.maintaining() as maintenance:
            await maintenance.write(
                [
                    TableWrite(
                        items,
                        ITEM_COLUMNS,
                        [item_row(record_of(item(key, "-2", 3))) for key in ("a", "c")],
                        mode="upsert",
                    ),
                    TableWrite(links, LINK_COLUMNS, [("a", 1), ("c", 3)], mode="ignore"),
                ]
            )
            inside = await maintenance.look_up(Lookup(items, "key", ITEM_COLUMNS, {"a", "z"}))
        assert [row[ITEM_COLUMNS.index("quantity")] for row in inside] == ["-2"]
        found = await store.look_up(Lookup(links, "key", LINK_COLUMNS, {"a", "b", "c"}))
        assert sorted(found) == [("a", 1), ("b", 2), ("c", 3)]
        assert await store.look_up(Lookup(links, "key", LINK_COLUMNS, set())) == []

        async with store.maintaining() as maintenance:
            await maintenance.empty([links.name])
        assert await store.look_up(Lookup(links, "key", LINK_COLUMNS, {"a", "b", "c"})) == []
        async with store.maintaining() as maintenance:
            await maintenance.drop([items, owners, links])
            await maintenance.drop([items])  # gone already: skipped
            assert not names & await maintenance.table_names()

    async def test_rows_are_added_to_and_updated(self, store: Store) -> None:
        counts = counts_table(SPARE)
        moment = datetime(2026, 3, 1, 9, tzinfo=UTC)
        row = (7, moment, "VAN-1", "P", None, None, "1004", "PI-1", None, None, "3", None, "k")
        async with store.maintaining() as maintenance:
            await maintenance.create([counts])
            await maintenance.write([TableWrite(counts, COUNT_COLUMNS, [row])])
            await maintenance.write(
                [
                    TableWrite(
                        counts,
                        ("position", "counted"),
                        [(7, "4")],
                        mode="update",
                        keys=("position",),
                    )
                ]
            )
            (found,) = await maintenance.look_up(
                Lookup(counts, "location", COUNT_COLUMNS, {"VAN-1"})
            )
            await maintenance.drop([counts])
        assert found == (*row[:10], "4", None, "k")

    async def test_one_process_at_a_time_holds_an_exclusive_lock(
        self, store: Store, database_url: str
    ) -> None:
        async with opened(database_url) as other, store.exclusively("rebuild"):
            with pytest.raises(AlreadyRunning):
                async with other.exclusively("rebuild"):
                    pass
        async with opened(database_url) as other, other.exclusively("rebuild"):
            pass  # let go: taken again

    async def test_a_held_append_lock_makes_writers_busy(
        self, store: Store, database_url: str
    ) -> None:
        async with opened(database_url, projection=LiveProjector(), busy_seconds=0.2) as writer:
            assert await writer.writable(wait=0.2)
            async with store.maintaining(locked=True):
                assert not await writer.writable(wait=0.2)
                with pytest.raises(StoreBusy):
                    await writer.append([new_event("k1")])
            assert await writer.append([new_event("k2")]) != []
        assert [event.dedupe_key for event in await store.read_events()] == ["k2"]
        await store.wait_for_readers(0.1)

    async def test_events_read_as_stored_for_the_folds(self, store: Store) -> None:
        stored = await append(store, [new_event(f"k{n}", data={"n": n}) for n in range(5)])
        first = stored[0].position

        raw = await store.read_raw(0, 10)
        assert [row[0] for row in raw] == [event.position for event in stored]
        assert [tuple(row)[1:3] for row in raw] == [("test.Happened", 1)] * 5
        assert '"n":3' in str(raw[3][3]).replace(" ", "")
        assert [row[0] for row in await store.read_raw(first, 2)] == [
            stored[1].position,
            stored[2].position,
        ]
        assert [row[0] for row in await store.read_raw(0, 10, stored[1].position)] == [
            first,
            stored[1].position,
        ]
        async with store.maintaining() as maintenance:
            assert await maintenance.head() == stored[-1].position

    async def test_events_carry_their_routing_and_a_read_leaves_out_data_not_wanted(
        self, store: Store
    ) -> None:
        fact = created(41, "k-ofs")
        ofs = NewEvent(
            stream_id="ofs-41",
            type=event_type(fact.event),
            data=fact.event,
            occurred_at=T0,
            dedupe_key=fact.dedupe_key,
        )
        stored = await append(store, [ofs, new_event("k-plain")])
        assert [event.routing for event in stored] == [("ofs-41",), None]

        rows = [tuple(row) for row in await store.read_raw(0, 10)]
        assert [row[4] for row in rows] == ['["ofs-41"]', None]
        # The data of an event that carries its routing, unless its type is
        # wanted; an event without routing always comes with its data.
        some = [tuple(row) for row in await store.read_raw(0, 10, data_of=[])]
        assert [row[3] is None for row in some] == [True, False]
        assert [row[:3] + row[4:] for row in some] == [row[:3] + row[4:] for row in rows]
        assert some[1] == rows[1]
        wanted = await store.read_raw(0, 10, data_of=[ofs.type, "other"])
        assert [tuple(row) for row in wanted] == rows

    async def test_a_history_loaded_in_bulk_reads_back_and_appends_go_on(
        self, store: Store
    ) -> None:
        recorded = datetime(2026, 3, 2, tzinfo=UTC)
        history = [
            StoredEvent(
                position=n,
                stream_id=f"s{n % 2}",
                version=(n + 1) // 2,
                type="test.Loaded",
                schema_version=1,
                data={"n": n},
                metadata={"source": "bench"},
                occurred_at=T0 + timedelta(minutes=n),
                recorded_at=recorded,
                dedupe_key=f"loaded-{n}",
            )
            for n in range(1, 7)
        ]

        async def batches() -> AsyncIterator[list[StoredEvent]]:
            yield history[:4]
            yield history[4:]

        assert await store.load_history(batches()) == 6
        assert await store.read_events() == history
        (next_one,) = await store.append([new_event("after", "s0")])
        assert (next_one.position, next_one.version) == (7, 4)

    async def test_queries_follow_a_rebuilds_switch(self, store: Store) -> None:
        await stored_history(store)
        before = await store.fetch(ItemQuery(key="ofs-2"))
        old = (await store.active_slots())["items"]

        await rebuild(store, ["items"], reader_grace=0)

        assert (await store.active_slots())["items"] != old
        assert await store.fetch(ItemQuery(key="ofs-2")) == before

    async def test_the_schema_is_migrated_and_the_store_opens_again(self, store: Store) -> None:
        assert await store.revision() is not None
        await store.migrate()  # again: nothing to do
        again = connect(store.address.url, busy_seconds=store.address.busy_seconds)
        try:
            assert await again.revision() == await store.revision()
            assert await asyncio.wait_for(again.head(), 30) == await store.head()
        finally:
            await again.close()

"""A store written by the previous version upgrades and rebuilds to the same
answers, on SQLite and PostgreSQL: its projections as they were served, and a
rebuild after the upgrade, are the replay of its history. A slot that a
rebuild in parts (the previous version's `rebuild --processes N`) left
half-filled, with rows past its own checkpoint and the parts' cursors, is
retired by migration 0011 and rebuilt from nothing, never resumed."""

from __future__ import annotations

from adapters.store import Cursor, Delivery, Slot, Store, TableWrite, connect
from adapters.store.projection_tables import ITEM_COLUMNS
from api.services.group_commit import Ingestor
from projections.catalog import ITEMS, PROJECTIONS
from projections.live import LiveProjector
from projections.rebuild import rebuild
from projections.setup import prepare
from tests.harness.histories import deliveries, submit_all
from tests.harness.old_store import routing_of_this_build
from tests.harness.tables import (
    active,
    active_tables,
    existing_tables,
    expect_replay,
    names_of,
    rows_of,
    stored_events,
)

BEFORE = "0009"
PARTS_CURSOR = "rebuild:"


async def left_in_parts(store: Store) -> Slot:
    """What a rebuild in two parts of the previous version, stopped half-way,
    leaves: a building slot of the items holding rows past its checkpoint (0),
    and a cursor for each part."""
    served = (await active(store))[ITEMS.name]
    rows = await rows_of(store, ITEMS.tables(served)[0], ITEM_COLUMNS)
    async with store.maintaining(locked=True) as maintenance:
        slot = await maintenance.next_slot(ITEMS.name, ITEMS.version)
        await maintenance.create(ITEMS.tables(slot), bare=True)
        await maintenance.register(ITEMS.name, slot, "building")
        half = [row for n, row in enumerate(rows) if n % 2 == 0]
        await maintenance.write([TableWrite(ITEMS.tables(slot)[0], ITEM_COLUMNS, half)])
    await store.commit(
        [
            Delivery(inbox=None, cursor=Cursor(name=f"{PARTS_CURSOR}{ITEMS.name}:{slot}:{part}/2"))
            for part in (0, 1)
        ]
    )
    return slot


async def test_a_store_of_the_previous_version_upgrades_and_rebuilds_to_the_same_answers(
    database_url: str,
) -> None:
    store = connect(database_url, projection=LiveProjector())
    try:
        await store.migrate(BEFORE)
        async with routing_of_this_build(store):
            await prepare(store)
            await submit_all(Ingestor(store), deliveries(3, 0, 40))
            half = await left_in_parts(store)
            assert len(await store.cursors(PARTS_CURSOR)) == 2
            served_before = await active_tables(store)

        await store.migrate()

        assert await store.cursors(PARTS_CURSOR) == []
        states = {(row.name, row.slot): row.state for row in await store.registered()}
        assert states[ITEMS.name, half] == "retired"
        events = await stored_events(store)
        # Stored before revision 0012: the rebuild computes their keys.
        assert {event.routing for event in events} == {None}
        # What was served before the upgrade is served after it, unchanged.
        assert await active_tables(store) == served_before
        expect_replay(served_before, events)

        served = (await active(store))[ITEMS.name]
        done = await rebuild(store, reader_grace=0)

        assert {d.name for d in done} == {p.name for p in PROJECTIONS}
        rebuilt = (await active(store))[ITEMS.name]
        assert rebuilt not in (half, served)
        assert not (names_of(ITEMS, half) | names_of(ITEMS, served)) & await existing_tables(store)
        expect_replay(await active_tables(store), events)
    finally:
        await store.close()

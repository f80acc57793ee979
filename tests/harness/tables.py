"""What a projection slot's tables hold, and what a replay of the stored events
says they should hold: the items the domain's fold gives, and the links,
owners and counts tests.harness.reference derives apart from the projections."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.store import Row, Slot, Store, StoredEvent
from adapters.store.projection_tables import (
    COUNT_COLUMNS,
    ITEM_COLUMNS,
    LINK_COLUMNS,
    OWNER_COLUMNS,
    counts_table,
    items_tables,
    links_table,
)
from domain.events import DomainEvent, from_data
from domain.fold import annotate, apply, fold
from domain.items import Item
from projections import counts, history, items
from projections.items import stored_item
from projections.projection import Projection
from tests.harness import reference


async def stored_events(store: Store) -> list[StoredEvent]:
    found: list[StoredEvent] = []
    while page := await store.read_events(found[-1].position if found else 0, 500):
        found.extend(page)
    return found


def applied(events: Sequence[StoredEvent]) -> list[tuple[int, DomainEvent]]:
    return [(event.position, from_data(event.data)) for event in events]


def replay(events: Sequence[StoredEvent]) -> dict[str, Item]:
    return fold(applied(events))


def links_of(events: Sequence[StoredEvent]) -> list[tuple[str, int]]:
    return reference.links(applied(events))


def owners_of(events: Sequence[StoredEvent]) -> set[tuple[str, str, str]]:
    """Every owner an event named, and of every state each item went through."""
    return reference.owners(applied(events))


def counts_of(events: Sequence[StoredEvent]) -> list[Row]:
    """The count rows the stored (annotated) events give."""
    return reference.counts(applied(events))


def annotated(events: Sequence[tuple[int, DomainEvent]]) -> list[tuple[int, DomainEvent]]:
    """The events as the live path stores them: counts with their annotation."""
    state: dict[str, Item] = {}
    out = []
    for position, event in events:
        event = annotate(state, event)
        for item in apply(state, event, position):
            state[item.key] = item
        out.append((position, event))
    return out


@dataclass
class Tables:
    """The content of one slot of each projection."""

    items: dict[str, Item]
    links: list[tuple[str, int]]
    owners: set[tuple[str, str, str]]
    counts: list[Row] | None = None


async def rows_of(store: Store, table: Table, columns: Sequence[str]) -> list[Row]:
    """Every row of a table, read through the store's maintenance."""
    async with store.maintaining() as maintenance:
        return await maintenance.rows(table, columns)


async def execute(store: Store, statement: str) -> None:
    """One SQL statement on the store's database through a connection of its
    own, as an operator's or an older build's would be."""
    engine = create_async_engine(store.address.url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def items_in(store: Store, slot: Slot) -> dict[str, Item]:
    rows = await rows_of(store, items_tables(slot)[0], ITEM_COLUMNS)
    return {row[0]: stored_item(row) for row in rows}


async def links_in(store: Store, slot: Slot) -> list[tuple[str, int]]:
    return sorted(
        (key, position) for key, position in await rows_of(store, links_table(slot), LINK_COLUMNS)
    )


async def owners_in(store: Store, slot: Slot) -> set[tuple[str, str, str]]:
    rows = await rows_of(store, items_tables(slot)[1], OWNER_COLUMNS)
    return {(kind, owner, key) for kind, owner, key in rows}


async def counts_in(store: Store, slot: Slot) -> list[Row]:
    return await rows_of(store, counts_table(slot), COUNT_COLUMNS)


async def tables_in(
    store: Store, items_slot: Slot, history_slot: Slot, counts_slot: Slot | None = None
) -> Tables:
    return Tables(
        await items_in(store, items_slot),
        await links_in(store, history_slot),
        await owners_in(store, items_slot),
        None if counts_slot is None else await counts_in(store, counts_slot),
    )


async def active(store: Store) -> dict[str, Slot]:
    return await store.active_slots()


async def active_tables(store: Store) -> Tables:
    slots = await active(store)
    return await tables_in(store, slots[items.NAME], slots[history.NAME], slots.get(counts.NAME))


async def existing_tables(store: Store) -> set[str]:
    async with store.maintaining() as maintenance:
        return await maintenance.table_names()


def names_of(projection: Projection, slot: Slot) -> set[str]:
    return {table.name for table in projection.tables(slot)}


def replayed(events: Sequence[StoredEvent]) -> Tables:
    """The tables a replay of the events gives."""
    return Tables(replay(events), links_of(events), owners_of(events), counts_of(events))


def expect_replay(tables: Tables, events: Sequence[StoredEvent]) -> None:
    assert tables.items == replay(events)
    assert tables.links == links_of(events)
    assert tables.owners == owners_of(events)
    if tables.counts is not None:
        assert tables.counts == counts_of(events)

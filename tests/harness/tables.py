"""What a projection slot's tables hold, and what a replay of the stored events
says they should hold: the items the domain's fold gives, and the links,
owners and counts tests.harness.reference derives apart from the projections."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import inspect, select

from adapters.store import EventStore, Slot, StoredEvent
from adapters.store.rows import Row
from domain.events import DomainEvent, from_data
from domain.fold import annotate, apply, fold
from domain.items import Item
from projections import counts, history, items
from projections.items import ITEM_COLUMNS, item_of
from projections.projection import Projection
from projections.reading import Part
from tests.harness import reference


async def stored_events(store: EventStore) -> list[StoredEvent]:
    found: list[StoredEvent] = []
    while page := await store.read_all(found[-1].position if found else 0, 500):
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


async def items_in(store: EventStore, slot: Slot) -> dict[str, Item]:
    table = items.tables(slot)[0]
    async with store.reading() as conn:
        rows = await conn.execute(select(*(table.c[name] for name in ITEM_COLUMNS)))
        return {row[0]: item_of(tuple(row)) for row in rows}


async def links_in(store: EventStore, slot: Slot) -> list[tuple[str, int]]:
    table = history.links_table(slot)
    async with store.reading() as conn:
        return sorted((row.key, row.position) for row in await conn.execute(select(table)))


async def owners_in(store: EventStore, slot: Slot) -> set[tuple[str, str, str]]:
    table = items.tables(slot)[1]
    async with store.reading() as conn:
        return {(row.kind, row.owner, row.key) for row in await conn.execute(select(table))}


async def counts_in(store: EventStore, slot: Slot) -> list[Row]:
    table = counts.counts_table(slot)
    columns = [table.c[name] for name in counts.COUNT_COLUMNS]
    async with store.reading() as conn:
        rows = await conn.execute(select(*columns).order_by(table.c.position))
        return [tuple(row) for row in rows]


async def tables_in(
    store: EventStore, items_slot: Slot, history_slot: Slot, counts_slot: Slot | None = None
) -> Tables:
    return Tables(
        await items_in(store, items_slot),
        await links_in(store, history_slot),
        await owners_in(store, items_slot),
        None if counts_slot is None else await counts_in(store, counts_slot),
    )


async def active(store: EventStore) -> dict[str, Slot]:
    return await store.active_slots()


async def active_tables(store: EventStore) -> Tables:
    slots = await active(store)
    return await tables_in(store, slots[items.NAME], slots[history.NAME], slots.get(counts.NAME))


async def existing_tables(store: EventStore) -> set[str]:
    async with store.reading() as conn:
        names: list[str] = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    return set(names)


def names_of(projection: Projection, slot: Slot) -> set[str]:
    return {table.name for table in projection.tables(slot)}


def replayed(events: Sequence[StoredEvent]) -> Tables:
    """The tables a replay of the events gives."""
    return Tables(replay(events), links_of(events), owners_of(events), counts_of(events))


def part_of(tables: Tables, part: Part) -> Tables:
    """The rows of one part of the items."""
    return Tables(
        {key: item for key, item in tables.items.items() if part.owns(key)},
        [link for link in tables.links if part.owns(link[0])],
        {owner for owner in tables.owners if part.owns(owner[2])},
        None if tables.counts is None else [row for row in tables.counts if part.owns(row[-1])],
    )


def expect_replay(tables: Tables, events: Sequence[StoredEvent]) -> None:
    assert tables.items == replay(events)
    assert tables.links == links_of(events)
    assert tables.owners == owners_of(events)
    if tables.counts is not None:
        assert tables.counts == counts_of(events)

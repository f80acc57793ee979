"""Rebuilding projections without downtime (architecture.md, properties 4 and 5),
on SQLite and on PostgreSQL.

A rebuild fills new tables from the history while deliveries keep arriving and
queries keep being answered, switches in one transaction, and drops the old
tables; the result is the pure fold of the stored events, with every event
applied once. An interrupted rebuild resumes from its checkpoint. A version
bump is reported stale and served from the old tables until it is rebuilt.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import MetaData, inspect, select

import projections.rebuild as rebuilding
import projections.setup
from adapters.store import Delivery, EventStore, InboxEntry, NewEvent, StoredEvent
from api.cli.rebuild import run_rebuild
from api.cli.status import run_status
from api.services.group_commit import Ingestor
from api.settings import Settings
from domain.events import (
    OFS_INVENTORY_EVENTS,
    DocumentRecorded,
    DomainEvent,
    Fact,
    OfsActivity,
    OfsChanges,
    OfsDetails,
    StockRef,
    StockUsageRecorded,
    event_type,
    from_data,
    to_data,
)
from domain.fold import apply, fold, named_owners, stream_of, touched_keys
from domain.items import Item
from projections.base import (
    Projection,
    Slot,
    active_versions,
    drop_tables,
    registered,
    set_state,
)
from projections.catalog import HISTORY, ITEMS, PROJECTIONS
from projections.history import item_events_table
from projections.items import from_row, items_table, owner_records, owners_table
from projections.queries import ItemFilter, Queries
from projections.rebuild import RebuildBusy, rebuild
from projections.setup import Stale, find_stale, prepare, rebuild_stale
from projections.status import status

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
LOCATIONS = ("VAN-01", "VAN-02", "WH-01")
PRODUCTS = ("CBL-CAT6", "FUSE-10A", "MODEM-X")
INVENTORY_IDS = tuple(range(41_000_001, 41_000_013))
BATCH = 20
"""Small batches: every test history spans many of them."""


# --------------------------------------------------------------------------
# Deliveries built from domain events


def usage(rng: random.Random, n: int) -> StockUsageRecorded:
    module = rng.choice(["1001", "1002", "1002", "1003", "1004", "1008"])
    return StockUsageRecorded(
        occurred_at=T0 + timedelta(minutes=n),
        location=rng.choice(LOCATIONS),
        product=rng.choice(PRODUCTS),
        serial=rng.choice([None, "SN-1"]),
        quantity_in=Decimal(rng.randint(0, 5)),
        quantity_out=Decimal(rng.randint(0, 3)),
        reported_quantity=Decimal(rng.randint(0, 9)),
        ref_module=module,
        ref_object=f"WO-{n % 4}" if module == "1002" else f"REF-{n}",
    )


def ofs_event(rng: random.Random, n: int) -> DomainEvent:
    kind = rng.choice(list(OFS_INVENTORY_EVENTS.values()))
    activity = OfsActivity(
        activity_id=4_225_599 + n % 3,
        resource_id=rng.choice(["TECH_017", "TECH_018"]),
        customer_number=rng.choice(["C-1009", "C-1010"]),
    )
    event = kind(
        occurred_at=T0 + timedelta(minutes=n),
        inventory_id=rng.choice(INVENTORY_IDS),
        details=OfsDetails(inventory_type="CABLE", quantity=Decimal(rng.randint(1, 4))),
        changes=OfsChanges(
            properties={"XA_CONDITION": rng.choice(["new", "damaged"])}
            if rng.random() < 0.3
            else {}
        ),
        activity=activity if rng.random() < 0.8 else None,
    )
    assert not isinstance(event, StockUsageRecorded | DocumentRecorded)
    return event  # type: ignore[return-value]


def document(rng: random.Random, n: int) -> DocumentRecorded:
    return DocumentRecorded(
        occurred_at=T0 + timedelta(minutes=n),
        document_type="LoadInventory",
        document_id=f"L-{n}",
        mentions=(StockRef(location=rng.choice(LOCATIONS), product=rng.choice(PRODUCTS)),),
    )


def delivery(rng: random.Random, n: int) -> Delivery:
    """One to three facts; now and then one that was delivered before."""
    source = rng.choice(["servicemobility", "ofs"])
    makers: dict[str, list[Callable[[random.Random, int], DomainEvent]]] = {
        "servicemobility": [usage, usage, document],
        "ofs": [ofs_event],
    }
    make = makers[source]
    facts = [
        Fact(event=rng.choice(make)(rng, n), dedupe_key=f"fact-{n}-{part}")
        for part in range(rng.randint(1, 3))
    ]
    if n > 5 and rng.random() < 0.1:
        # A fact seen before keeps its first event: this one is skipped.
        facts.append(Fact(event=usage(rng, n), dedupe_key=f"fact-{n - 5}-0"))
    entry = InboxEntry(
        source=source,
        kind="InventoryUsage" if source == "servicemobility" else "events",
        body=b"{}",
        received_at=T0,
        message_id=f"msg-{n}",
        content_type="application/json",
    )
    return Delivery(inbox=entry, facts=tuple(facts), metadata={"source": source})


def deliveries(seed: int, start: int, count: int) -> list[Delivery]:
    rng = random.Random(seed)
    return [delivery(rng, n) for n in range(start, start + count)]


async def submit_all(ingestor: Ingestor, batch: Sequence[Delivery]) -> None:
    """Submit concurrently, so the Ingestor groups them into shared commits."""
    await asyncio.gather(*(ingestor.submit(item) for item in batch))


# --------------------------------------------------------------------------
# What the store and the tables hold


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
    return sorted(
        (key, position) for position, event in applied(events) for key in touched_keys(event)
    )


def owners_of(events: Sequence[StoredEvent]) -> set[tuple[str, str, str]]:
    """Every owner an event named, and of every state each item went through."""
    items: dict[str, Item] = {}
    owners: set[tuple[str, str, str]] = set()
    for position, event in applied(events):
        owners.update(named_owners(event))
        for item in apply(items, event, position):
            items[item.key] = item
            owners.update(owner_records(item))
    return owners


class Tables:
    """The content of one slot of the items and history projections."""

    def __init__(
        self,
        items: dict[str, Item],
        links: list[tuple[str, int]],
        owners: set[tuple[str, str, str]],
    ) -> None:
        self.items = items
        self.links = links
        self.owners = owners


async def items_in(store: EventStore, slot: Slot) -> dict[str, Item]:
    async with store.reading() as conn:
        rows = await conn.execute(select(items_table(slot, MetaData())))
        return {row.key: from_row(row) for row in rows}


async def links_in(store: EventStore, slot: Slot) -> list[tuple[str, int]]:
    table = item_events_table(slot, MetaData())
    async with store.reading() as conn:
        return sorted((row.key, row.position) for row in await conn.execute(select(table)))


async def owners_in(store: EventStore, slot: Slot) -> set[tuple[str, str, str]]:
    table = owners_table(slot, MetaData())
    async with store.reading() as conn:
        return {(row.kind, row.owner, row.key) for row in await conn.execute(select(table))}


async def tables_in(store: EventStore, items: Slot, history: Slot) -> Tables:
    return Tables(
        await items_in(store, items), await links_in(store, history), await owners_in(store, items)
    )


async def active(store: EventStore) -> dict[str, Slot]:
    async with store.reading() as conn:
        return await active_versions(conn)


async def existing_tables(store: EventStore) -> set[str]:
    async with store.reading() as conn:
        names: list[str] = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    return set(names)


def names_of(projection: Projection, slot: Slot) -> set[str]:
    return {table.name for table in projection.tables(slot, MetaData())}


def expect_replay(tables: Tables, events: Sequence[StoredEvent]) -> None:
    assert tables.items == replay(events)
    assert tables.links == links_of(events)
    assert tables.owners == owners_of(events)


Hook = Callable[[], Awaitable[None]]


def between_batches(monkeypatch: pytest.MonkeyPatch, hook: Hook) -> list[int]:
    """Run `hook` after every batch the rebuild commits; returns the count."""
    commits = [0]
    commit = rebuilding._commit

    async def committed_then_hook(store: EventStore, writes: Any) -> None:
        await commit(store, writes)
        commits[0] += 1
        await hook()

    monkeypatch.setattr(rebuilding, "_commit", committed_then_hook)
    return commits


def before_drop(monkeypatch: pytest.MonkeyPatch) -> list[Tables]:
    """Keep the content of the tables a switch retired, just before they go."""
    kept: list[Tables] = []
    drop = rebuilding._drop

    async def keep_then_drop(store: EventStore, slots: Sequence[tuple[Projection, Slot]]) -> None:
        retired = {projection.name: slot for projection, slot in slots}
        if ITEMS.name in retired and HISTORY.name in retired:
            kept.append(await tables_in(store, retired[ITEMS.name], retired[HISTORY.name]))
        await drop(store, slots)

    monkeypatch.setattr(rebuilding, "_drop", keep_then_drop)
    return kept


# --------------------------------------------------------------------------
# Rebuild under load


async def test_a_rebuild_under_live_writes_and_queries_equals_a_replay(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingestor = Ingestor(store, max_batch=8)
    await ingestor.start()
    await submit_all(ingestor, deliveries(1, 0, 120))
    before = await active(store)
    queries = Queries(store)
    answered: list[str] = []
    later = iter(deliveries(2, 1000, 400))

    async def ask() -> None:
        page = await queries.list_items(
            ItemFilter(owner_kind="resource", owner=random.choice(LOCATIONS)),
            after=None,
            limit=50,
        )
        key = f"ofs-{random.choice(INVENTORY_IDS)}"
        await queries.item(key)
        await queries.history(key)
        await queries.list_items(
            ItemFilter(owner_kind="customer", owner="C-1009"), after=None, limit=10, at=T0
        )
        answered.append(str(len(page.items)))

    async def deliver_and_ask() -> None:
        # Between two batches of the fill, for sure: appends to the old slot
        # and answers from it.
        await submit_all(ingestor, [item for item in itertools.islice(later, 3)])
        await ask()

    commits = between_batches(monkeypatch, deliver_and_ask)
    retired = before_drop(monkeypatch)
    stop = asyncio.Event()

    async def keep_writing() -> None:
        for item in later:
            if stop.is_set():
                return
            await ingestor.submit(item)

    async def keep_asking() -> None:
        while not stop.is_set():
            await ask()

    writer, reader = asyncio.create_task(keep_writing()), asyncio.create_task(keep_asking())
    done = await rebuild(store, None, batch_size=BATCH)
    stop.set()
    await asyncio.gather(writer, reader)
    # After the switch, live appends reach the new slot.
    await submit_all(ingestor, deliveries(3, 5000, 10))
    await ingestor.stop()

    events = await stored_events(store)
    after = await active(store)
    for name in (ITEMS.name, HISTORY.name):
        assert after[name] == Slot(1, before[name].generation + 1)
    assert [(d.name, d.slot, d.previous) for d in done] == [
        (ITEMS.name, after[ITEMS.name], before[ITEMS.name]),
        (HISTORY.name, after[HISTORY.name], before[HISTORY.name]),
    ]
    assert commits[0] > 3
    assert answered
    # The switched-in slot is the replay: every event once, none missed.
    expect_replay(await tables_in(store, after[ITEMS.name], after[HISTORY.name]), events)
    # The live slot it replaced held the same up to the switch.
    (old,) = retired
    expect_replay(old, [event for event in events if event.position <= done[0].position])
    assert done[0].position < events[-1].position
    tables = await existing_tables(store)
    assert not (names_of(ITEMS, before[ITEMS.name]) | names_of(HISTORY, before[HISTORY.name])) & (
        tables
    )


async def test_a_second_rebuild_while_one_runs_is_refused(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await submit_all(Ingestor(store), deliveries(4, 0, 30))
    refused: list[RebuildBusy] = []

    async def try_another() -> None:
        with pytest.raises(RebuildBusy) as caught:
            await rebuild(store)
        refused.append(caught.value)

    between_batches(monkeypatch, try_another)
    await rebuild(store, batch_size=BATCH)

    assert refused
    expect_replay(await _active_tables(store), await stored_events(store))


async def _active_tables(store: EventStore) -> Tables:
    slots = await active(store)
    return await tables_in(store, slots[ITEMS.name], slots[HISTORY.name])


# --------------------------------------------------------------------------
# Interrupted and resumed


class Interrupted(Exception):
    """Raised on purpose from a progress callback."""


@pytest.mark.parametrize("how", ["raise", "cancel"])
async def test_an_interrupted_rebuild_resumes_from_its_checkpoint(
    store: EventStore, how: str
) -> None:
    ingestor = Ingestor(store)
    await submit_all(ingestor, deliveries(5, 0, 100))
    events = await stored_events(store)
    assert len(events) > 6 * BATCH
    task: asyncio.Task[Any] | None = None

    def progress(done: int, total: int) -> None:
        if done >= 3 * BATCH:
            if how == "raise":
                raise Interrupted
            assert task is not None
            task.cancel()

    task = asyncio.create_task(rebuild(store, None, progress, batch_size=BATCH))
    with pytest.raises(Interrupted if how == "raise" else asyncio.CancelledError):
        await task

    async with store.reading() as conn:
        building = {row.name: row for row in await registered(conn) if row.state == "building"}
    assert set(building) == {ITEMS.name, HISTORY.name}
    checkpoint = building[ITEMS.name].position
    assert building[HISTORY.name].position == checkpoint
    boundaries = [events[end - 1].position for end in range(BATCH, len(events), BATCH)]
    assert checkpoint in boundaries[2:4]
    # Exactly the events up to the checkpoint are in the building tables.
    upto = [event for event in events if event.position <= checkpoint]
    expect_replay(
        await tables_in(store, building[ITEMS.name].slot, building[HISTORY.name].slot), upto
    )

    await submit_all(ingestor, deliveries(6, 2000, 20))
    done = await rebuild(store, None, batch_size=BATCH)

    events = await stored_events(store)
    assert [d.slot for d in done] == [building[ITEMS.name].slot, building[HISTORY.name].slot]
    assert [d.events for d in done] == [len(events) - len(upto)] * 2
    expect_replay(await _active_tables(store), events)


# --------------------------------------------------------------------------
# A new version


async def test_a_version_bump_is_stale_until_rebuilt_then_the_old_tables_go(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingestor = Ingestor(store)
    await submit_all(ingestor, deliveries(7, 0, 60))
    queries = Queries(store)
    key = f"ofs-{INVENTORY_IDS[0]}"
    served = await queries.item(key)
    old = (await active(store))[ITEMS.name]
    monkeypatch.setattr(ITEMS, "version", old.version + 1)

    assert await prepare(store) == [Stale(ITEMS.name, old.version, old.version + 1)]
    assert await find_stale(store) == [Stale(ITEMS.name, old.version, old.version + 1)]
    report = await status(store)
    assert [(p.name, p.active, p.wanted, p.stale) for p in report.projections] == [
        (ITEMS.name, old.version, old.version + 1, True),
        (HISTORY.name, 1, 1, False),
    ]
    # Still served, and still kept live, from the old version's tables.
    assert await queries.item(key) == served
    await submit_all(ingestor, deliveries(8, 3000, 20))
    events = await stored_events(store)
    assert await items_in(store, old) == replay(events)

    (done,) = await rebuild(store, [ITEMS.name], batch_size=BATCH)

    assert (done.name, done.previous, done.slot) == (ITEMS.name, old, Slot(old.version + 1))
    assert await prepare(store) == []
    assert (await active(store))[ITEMS.name] == Slot(old.version + 1)
    assert await items_in(store, Slot(old.version + 1)) == replay(events)
    assert await owners_in(store, Slot(old.version + 1)) == owners_of(events)
    tables = await existing_tables(store)
    assert not names_of(ITEMS, old) & tables
    assert names_of(HISTORY, Slot(1)) <= tables
    report = await status(store)
    assert [(p.name, p.active, p.stale) for p in report.projections] == [
        (ITEMS.name, old.version + 1, False),
        (HISTORY.name, 1, False),
    ]
    assert [(s.version, s.state) for s in report.projections[0].slots] == [
        (old.version, "retired"),
        (old.version + 1, "active"),
    ]


async def test_stale_projections_are_rebuilt_in_the_background_when_asked(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await submit_all(Ingestor(store), deliveries(13, 0, 40))
    monkeypatch.setattr(HISTORY, "version", 2)
    stale = await prepare(store)
    assert stale == [Stale(HISTORY.name, 1, 2)]
    attempts: list[Sequence[str] | None] = []

    async def busy_once(store: EventStore, names: Sequence[str] | None = None) -> Any:
        attempts.append(names)
        if len(attempts) == 1:
            raise RebuildBusy("another rebuild is running")
        return await rebuild(store, names, batch_size=BATCH)

    monkeypatch.setattr(projections.setup, "rebuild", busy_once)
    await rebuild_stale(store, stale, poll=0)

    assert stale == []
    assert attempts == [[HISTORY.name], [HISTORY.name]]
    assert (await active(store))[HISTORY.name] == Slot(2)
    assert await links_in(store, Slot(2)) == links_of(await stored_events(store))


async def test_a_build_left_by_another_version_is_dropped_and_started_afresh(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await submit_all(Ingestor(store), deliveries(14, 0, 60))

    def stop(done: int, total: int) -> None:
        raise Interrupted

    with pytest.raises(Interrupted):
        await rebuild(store, [ITEMS.name], stop, batch_size=BATCH)
    left = next(
        row.slot
        for row in await _registered(store)
        if row.state == "building" and row.name == ITEMS.name
    )
    monkeypatch.setattr(ITEMS, "version", 2)

    (done,) = await rebuild(store, [ITEMS.name], batch_size=BATCH)

    events = await stored_events(store)
    assert done.slot == Slot(2)
    assert done.events == len(events)
    rows = [row for row in await _registered(store) if row.name == ITEMS.name]
    assert [(row.slot, row.state) for row in rows] == [
        (Slot(1, 1), "retired"),
        (left, "retired"),
        (Slot(2), "active"),
    ]
    assert not (names_of(ITEMS, left) | names_of(ITEMS, Slot(1))) & await existing_tables(store)
    assert await items_in(store, Slot(2)) == replay(events)


async def _registered(store: EventStore) -> list[Any]:
    async with store.reading() as conn:
        return await registered(conn)


async def test_prepare_builds_a_missing_projection_from_the_history(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await submit_all(Ingestor(store), deliveries(9, 0, 40))
    monkeypatch.setattr(rebuilding, "BATCH", BATCH)
    slots = await active(store)
    async with store.writing() as writer:
        for projection in PROJECTIONS:
            await drop_tables(writer.conn, projection, slots[projection.name])
            await set_state(writer.conn, projection.name, slots[projection.name], "retired")

    assert await prepare(store) == []

    now = await active(store)
    assert [now[p.name] for p in PROJECTIONS] == [Slot(1, 2), Slot(1, 2)]
    expect_replay(await _active_tables(store), await stored_events(store))


# --------------------------------------------------------------------------
# The commands


async def test_the_rebuild_and_status_commands(
    store: EventStore, capsys: pytest.CaptureFixture[str]
) -> None:
    await submit_all(Ingestor(store), deliveries(10, 0, 30))
    async with store.writing() as writer:
        # Events no projection has seen yet: the projections lag behind.
        await writer.append([raw_event(n) for n in range(3)])
        await writer.quarantine(
            InboxEntry(source="ofs", kind="events", body=b"[", received_at=T0), "not JSON"
        )
    settings = Settings(database_url=store.database.url)
    head = await store.head()

    assert await run_status(settings, as_json=True) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["head"] == head
    assert report["events"] == await store.count()
    assert report["inbox"]["quarantined"] == 1
    assert [q["reason"] for q in report["quarantined"]] == ["not JSON"]
    for projection in report["projections"]:
        assert not projection["stale"]
        (slot,) = projection["slots"]
        assert (slot["state"], slot["lag"]) == ("active", 3)
        assert slot["position"] == head - 3

    assert await run_rebuild(settings, []) == 0
    printed = capsys.readouterr()
    assert "rebuilt 2 projection(s)" in printed.out
    assert printed.err == ""
    assert await run_status(settings, as_json=True) == 0
    report = json.loads(capsys.readouterr().out)
    for projection in report["projections"]:
        assert [(s["state"], s["lag"]) for s in projection["slots"]] == [
            ("retired", None),
            ("active", 0),
        ]
    assert await run_status(settings) == 0
    assert "quarantined" in capsys.readouterr().out
    assert await run_rebuild(settings, ["nonsense"]) == 2
    assert "unknown projection" in capsys.readouterr().err


def raw_event(n: int) -> NewEvent:
    event = usage(random.Random(n), 9000 + n)
    return NewEvent(
        stream_id=stream_of(event),
        type=event_type(event),
        data=to_data(event),
        occurred_at=event.occurred_at,
        dedupe_key=f"raw-{n}",
    )

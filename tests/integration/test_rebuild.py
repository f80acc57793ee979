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
from typing import Any

import pytest

import projections.filling as filling
import projections.rebuild as rebuilding
import projections.setup
from adapters.store import Delivery, InboxEntry, NewEvent, Slot, Store
from adapters.store.queries import ItemFilter
from api.cli.rebuild import run_rebuild
from api.cli.status import run_status
from api.services.group_commit import Ingestor, Limits
from api.settings import Settings
from projections.catalog import COUNTS, HISTORY, ITEMS, PROJECTIONS, SIGNALS
from projections.live import LiveProjector
from projections.projection import Projection
from projections.queries import Queries
from projections.rebuild import RebuildBusy, rebuild
from projections.setup import Stale, find_stale, prepare, rebuild_stale
from projections.status import status
from tests.contract.support import opened
from tests.harness.histories import (
    BATCH,
    INVENTORY_IDS,
    LOCATIONS,
    T0,
    appended,
    deliveries,
    submit_all,
    usage,
)
from tests.harness.tables import (
    Tables,
    active,
    active_tables,
    counts_of,
    existing_tables,
    expect_replay,
    items_in,
    links_in,
    links_of,
    names_of,
    owners_in,
    owners_of,
    replay,
    stored_events,
    tables_in,
)

Hook = Callable[[], Awaitable[None]]


def between_batches(monkeypatch: pytest.MonkeyPatch, hook: Hook) -> list[int]:
    """Run `hook` after every batch the rebuild commits; returns the count."""
    commits = [0]
    commit = filling._commit

    async def committed_then_hook(*args: Any) -> None:
        await commit(*args)
        commits[0] += 1
        await hook()

    monkeypatch.setattr(filling, "_commit", committed_then_hook)
    return commits


def before_drop(monkeypatch: pytest.MonkeyPatch) -> list[Tables]:
    """Keep the content of the tables a switch retired, just before they go."""
    kept: list[Tables] = []
    drop = rebuilding._drop

    async def keep_then_drop(store: Store, slots: Sequence[tuple[Projection, Slot]]) -> None:
        retired = {projection.name: slot for projection, slot in slots}
        if ITEMS.name in retired and HISTORY.name in retired:
            kept.append(await tables_in(store, retired[ITEMS.name], retired[HISTORY.name]))
        await drop(store, slots)

    monkeypatch.setattr(rebuilding, "_drop", keep_then_drop)
    return kept


# --------------------------------------------------------------------------
# Rebuild under load


async def test_a_rebuild_under_live_writes_and_queries_equals_a_replay(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingestor = Ingestor(store, limits=Limits(deliveries=8))
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
    for projection in PROJECTIONS:
        name = projection.name
        assert after[name] == Slot(projection.version, before[name].generation + 1)
    assert [(d.name, d.slot, d.previous) for d in done] == [
        (p.name, after[p.name], before[p.name]) for p in PROJECTIONS
    ]
    assert commits[0] > 3
    assert answered
    # The switched-in slot is the replay: every event once, none missed.
    expect_replay(
        await tables_in(store, after[ITEMS.name], after[HISTORY.name], after[COUNTS.name]), events
    )
    # The live slot it replaced held the same up to the switch.
    (old,) = retired
    expect_replay(old, [event for event in events if event.position <= done[0].position])
    assert done[0].position < events[-1].position
    tables = await existing_tables(store)
    assert not (names_of(ITEMS, before[ITEMS.name]) | names_of(HISTORY, before[HISTORY.name])) & (
        tables
    )


async def test_a_second_rebuild_while_one_runs_is_refused(
    store: Store, monkeypatch: pytest.MonkeyPatch
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
    expect_replay(await active_tables(store), await stored_events(store))


# --------------------------------------------------------------------------
# Interrupted and resumed


class Interrupted(Exception):
    """Raised on purpose from a progress callback."""


@pytest.mark.parametrize("how", ["raise", "cancel"])
async def test_an_interrupted_rebuild_resumes_from_its_checkpoint(store: Store, how: str) -> None:
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

    building = {row.name: row for row in await store.registered() if row.state == "building"}
    assert set(building) == {p.name for p in PROJECTIONS}
    checkpoint = building[HISTORY.name].position
    assert building[COUNTS.name].position == checkpoint
    boundaries = [events[end - 1].position for end in range(BATCH, len(events), BATCH)]
    assert checkpoint in boundaries[2:4]
    # Exactly the events up to the checkpoint are in the tables written by
    # batch; the items, held in memory until the history is read, have
    # nothing written and their checkpoint where they began.
    upto = [event for event in events if event.position <= checkpoint]
    written = await tables_in(
        store, building[ITEMS.name].slot, building[HISTORY.name].slot, building[COUNTS.name].slot
    )
    assert building[ITEMS.name].position == 0
    assert written.items == {}
    assert written.owners == set()
    assert written.links == links_of(upto)
    assert written.counts == counts_of(upto)

    await submit_all(ingestor, deliveries(6, 2000, 20))
    done = await rebuild(store, None, batch_size=BATCH)

    events = await stored_events(store)
    resumed = [p.name for p in PROJECTIONS if getattr(p, "resumes", True)]
    assert [d.slot for d in done if d.name in resumed] == [building[n].slot for n in resumed]
    folded = {d.name: d.events for d in done if d.name in resumed}
    assert folded == {
        ITEMS.name: len(events),
        HISTORY.name: len(events) - len(upto),
        COUNTS.name: len(events) - len(upto),
    }
    # The signals hold the items in memory while they fill: they start again.
    again = [d for d in done if d.name not in resumed]
    assert [d.events for d in again] == [len(events)] * len(again)
    assert all(d.slot != building[d.name].slot for d in again)
    expect_replay(await active_tables(store), events)


# --------------------------------------------------------------------------
# A new version


async def test_a_version_bump_is_stale_until_rebuilt_then_the_old_tables_go(
    store: Store, monkeypatch: pytest.MonkeyPatch
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
        (COUNTS.name, 1, 1, False),
        (SIGNALS.name, 1, 1, False),
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
        (COUNTS.name, 1, False),
        (SIGNALS.name, 1, False),
    ]
    assert [(s.version, s.state) for s in report.projections[0].slots] == [
        (old.version, "retired"),
        (old.version + 1, "active"),
    ]


async def test_stale_projections_are_rebuilt_in_the_background_when_asked(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    await submit_all(Ingestor(store), deliveries(13, 0, 40))
    monkeypatch.setattr(HISTORY, "version", 2)
    stale = await prepare(store)
    assert stale == [Stale(HISTORY.name, 1, 2)]
    attempts: list[Sequence[str] | None] = []

    async def busy_once(store: Store, names: Sequence[str] | None = None) -> Any:
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
    store: Store, monkeypatch: pytest.MonkeyPatch
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
    old = ITEMS.version
    monkeypatch.setattr(ITEMS, "version", old + 1)

    (done,) = await rebuild(store, [ITEMS.name], batch_size=BATCH)

    events = await stored_events(store)
    assert done.slot == Slot(old + 1)
    assert done.events == len(events)
    rows = [row for row in await _registered(store) if row.name == ITEMS.name]
    assert [(row.slot, row.state) for row in rows] == [
        (Slot(old, 1), "retired"),
        (left, "retired"),
        (Slot(old + 1), "active"),
    ]
    assert not (names_of(ITEMS, left) | names_of(ITEMS, Slot(old))) & await existing_tables(store)
    assert await items_in(store, Slot(old + 1)) == replay(events)


async def _registered(store: Store) -> list[Any]:
    return await store.registered()


async def test_prepare_builds_a_missing_projection_from_the_history(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    await submit_all(Ingestor(store), deliveries(9, 0, 40))
    monkeypatch.setattr(rebuilding, "BATCH", BATCH)
    slots = await active(store)
    async with store.maintaining(locked=True) as maintenance:
        for projection in PROJECTIONS:
            await maintenance.drop(projection.tables(slots[projection.name]))
            await maintenance.set_state(projection.name, slots[projection.name], "retired")

    assert await prepare(store) == []

    now = await active(store)
    assert [now[p.name] for p in PROJECTIONS] == [Slot(p.version, 2) for p in PROJECTIONS]
    expect_replay(await active_tables(store), await stored_events(store))


# --------------------------------------------------------------------------
# The commands


async def test_the_rebuild_and_status_commands(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    await submit_all(Ingestor(store), deliveries(10, 0, 30))
    # Events no projection has seen yet (a store that projects nothing
    # appended them): the projections lag behind.
    async with opened(store.address.url, projection=LiveProjector(projections=())) as other:
        await other.append([raw_event(n) for n in range(3)])
    quarantined = InboxEntry(source="ofs", kind="events", body=b"[", received_at=T0)
    await store.commit([Delivery(inbox=quarantined, rejected="not JSON")])
    settings = Settings(database_url=store.address.url)
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
    assert f"rebuilt {len(PROJECTIONS)} projection(s)" in printed.out
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
    return appended(usage(random.Random(n), 9000 + n), f"raw-{n}", as_data=True)

"""A rebuild folded by several processes, one part of the items each (PostgreSQL).

Every part's process reads the whole history and keeps its own items; the
parts meet at one position and the rebuild goes on from there. The result is
the replay, whatever the parts' processes went through: stopped by the
rebuild's caller, or killed in the middle; the next run resumes every part
from its own checkpoint.
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import pytest

import projections.parts as parts
from adapters.store import Slot, Store
from api.cli.main import _parser
from api.cli.rebuild import run_rebuild
from api.services.group_commit import Ingestor
from api.settings import Settings
from projections.catalog import COUNTS, HISTORY, ITEMS, PROJECTIONS
from projections.parts import Job
from projections.reading import Part
from projections.rebuild import rebuild
from tests.harness.histories import BATCH, deliveries, submit_all
from tests.harness.tables import (
    active_tables,
    expect_replay,
    part_of,
    replayed,
    stored_events,
    tables_in,
)

PARTS = 2
SMALL = 5
"""Events per batch when a part is to be stopped half-way for sure."""


class Interrupted(Exception):
    """Raised on purpose from a progress callback."""


async def building(store: Store) -> dict[str, tuple[Slot, int]]:
    return {
        row.name: (row.slot, row.position)
        for row in await store.registered()
        if row.state == "building"
    }


async def part_checkpoints(store: Store, name: str, slot: Slot) -> dict[tuple[int, int], int]:
    async with store.maintaining() as maintenance:
        return await maintenance.part_checkpoints(name, slot)


async def test_a_rebuild_in_parts_under_live_writes_equals_a_replay(pg_store: Store) -> None:
    ingestor = Ingestor(pg_store)
    await ingestor.start()
    await submit_all(ingestor, deliveries(21, 0, 120))
    later = iter(deliveries(22, 1000, 60))
    stop = asyncio.Event()
    reports: list[tuple[int, int]] = []

    async def keep_writing() -> None:
        for item in later:
            if stop.is_set():
                return
            await ingestor.submit(item)
            await asyncio.sleep(0.01)

    writer = asyncio.create_task(keep_writing())
    done = await rebuild(
        pg_store,
        progress=lambda done, total: reports.append((done, total)),
        batch_size=BATCH,
        processes=PARTS,
    )
    stop.set()
    await writer
    await ingestor.stop()

    events = await stored_events(pg_store)
    expect_replay(await active_tables(pg_store), events)
    # Every event up to the switch was folded once; later ones live.
    switched = len([event for event in events if event.position <= done[0].position])
    assert [d.events for d in done] == [switched] * len(PROJECTIONS)
    # Progress only goes forward and ends at the whole history.
    assert [done for done, _ in reports] == sorted(done for done, _ in reports)
    assert reports[-1] == (switched, switched)
    # No part's checkpoint is left behind.
    for name, slot in (await pg_store.active_slots()).items():
        assert await part_checkpoints(pg_store, name, slot) == {}


async def test_an_interrupted_rebuild_in_parts_resumes_every_part_where_it_stopped(
    pg_store: Store,
) -> None:
    ingestor = Ingestor(pg_store)
    await submit_all(ingestor, deliveries(23, 0, 100))
    events = await stored_events(pg_store)

    def progress(done: int, total: int) -> None:
        if done >= 3 * BATCH:
            raise Interrupted

    with pytest.raises(Interrupted):
        await rebuild(pg_store, progress=progress, batch_size=BATCH, processes=PARTS)

    slots = await building(pg_store)
    assert set(slots) == {projection.name for projection in PROJECTIONS}
    # Each part holds exactly its items' events up to its own checkpoint.
    items_slot, history_slot, counts_slot = (slots[p.name][0] for p in (ITEMS, HISTORY, COUNTS))
    held = await tables_in(pg_store, items_slot, history_slot, counts_slot)
    checkpoints = await part_checkpoints(pg_store, ITEMS.name, items_slot)
    assert set(checkpoints) == {(number, PARTS) for number in range(PARTS)}
    for (number, of), position in checkpoints.items():
        part = Part(number, of)
        assert await part_checkpoints(pg_store, HISTORY.name, history_slot) == checkpoints
        upto = [event for event in events if event.position <= position]
        assert part_of(held, part) == part_of(replayed(upto), part)

    # Run again without asking for parts: they go on as begun.
    await submit_all(ingestor, deliveries(24, 2000, 20))
    done = await rebuild(pg_store, batch_size=BATCH)

    events = await stored_events(pg_store)
    assert [d.slot for d in done] == [slots[p.name][0] for p in PROJECTIONS]
    expect_replay(await active_tables(pg_store), events)


async def test_a_part_killed_mid_way_fails_the_rebuild_and_the_next_run_finishes_it(
    pg_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    await submit_all(Ingestor(pg_store), deliveries(25, 0, 300))
    launched: list[asyncio.subprocess.Process] = []
    launch = parts._launch

    async def launch_and_keep(job: Any) -> asyncio.subprocess.Process:
        launched.append(await launch(job))
        return launched[-1]

    monkeypatch.setattr(parts, "_launch", launch_and_keep)

    def progress(done: int, total: int) -> None:
        # At the first batch both parts have committed, of many.
        if launched[0].returncode is None:
            os.kill(launched[0].pid, signal.SIGKILL)

    with pytest.raises(RuntimeError, match="part 1 of 2 stopped"):
        await rebuild(pg_store, progress=progress, batch_size=SMALL, processes=PARTS)
    assert all(process.returncode is not None for process in launched)

    monkeypatch.setattr(parts, "_launch", launch)
    await rebuild(pg_store, batch_size=BATCH)
    expect_replay(await active_tables(pg_store), await stored_events(pg_store))


async def test_the_rebuild_command_folds_in_the_processes_asked_for(
    pg_store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    await submit_all(Ingestor(pg_store), deliveries(26, 0, 60))
    settings = Settings(database_url=pg_store.address.url)
    launched: list[Job] = []
    launch = parts._launch

    async def launch_and_keep(job: Job) -> asyncio.subprocess.Process:
        launched.append(job)
        return await launch(job)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(parts, "_launch", launch_and_keep)
        assert await run_rebuild(settings, [], processes=PARTS) == 0

    assert sorted(job.part for job in launched) == [Part(n, PARTS) for n in range(PARTS)]
    assert f"rebuilt {len(PROJECTIONS)} projection(s)" in capsys.readouterr().out
    expect_replay(await active_tables(pg_store), await stored_events(pg_store))
    with pytest.raises(SystemExit):
        _parser().parse_args(["rebuild", "--processes", "0"])
    assert "not a number of processes" in capsys.readouterr().err

"""A store upgraded by migration 0009 gets the entries of its stored history:
the same entries, at the same positions, with the same ids and data, as a
store that had the feed all along made live for the same deliveries (here an
embedded one); so following the upgraded store from the start, or from a
snapshot, gives what the live store gives."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from adapters.store import StoredEvent, connect
from adapters.store.feed import FeedQuery
from projections.live import LiveProjector
from projections.setup import prepare
from tests.contract.feed import every_entry, snapshot
from tests.harness.databases import migrated_store
from tests.harness.feed import fold_entries
from tests.harness.histories import delivery
from tests.harness.old_store import routing_of_this_build

BEFORE_THE_FEED = "0007"


async def batches(events: list[StoredEvent]) -> AsyncIterator[Sequence[StoredEvent]]:
    for start in range(0, len(events), 50):
        yield events[start : start + 50]


async def test_an_upgraded_store_has_the_entries_live_batches_make(
    database_url: str, tmp_path: Path
) -> None:
    rng = random.Random(11)
    async with migrated_store(f"sqlite+aiosqlite:///{tmp_path / 'live.db'}") as live:
        for start in range(0, 60, 6):
            await live.commit([delivery(rng, n) for n in range(start, start + 6)])
        expected = await every_entry(live, FeedQuery(limit=1000))
        events = await live.read_events(0, 100_000)
        live_snapshot = await snapshot(live, await live.feed_head())

    old = connect(database_url, projection=LiveProjector())
    try:
        await old.migrate(BEFORE_THE_FEED)
        async with routing_of_this_build(old):
            assert await old.load_history(batches(events)) == len(events)
        await old.migrate()
        await prepare(old)
        upgraded = await every_entry(old, FeedQuery(limit=1000))
        assert upgraded == expected
        assert len(upgraded) > len(events) / 2
        assert await snapshot(old, await old.feed_head()) == live_snapshot
        middle = len(upgraded) // 2
        halfway = await snapshot(old, middle)
        assert fold_entries(upgraded[middle:], halfway) == fold_entries(upgraded)
        assert fold_entries(upgraded) == live_snapshot
    finally:
        await old.close()

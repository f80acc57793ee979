"""The contract of the change feed: an entry per item change, written with
its batch, in position order without a gap; reads see the committed head in
the same snapshot; the filters (owners before or after a change); snapshots
at a position that, followed by the feed, equal following it from the start;
waiting woken by a commit."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import msgspec

from adapters.store import Store
from adapters.store.feed import FeedFilter, FeedQuery
from adapters.store.queries import ItemQuery, SnapshotQuery
from tests.harness.feed import assert_in_order_once, fold_entries, item_json
from tests.harness.histories import delivery


async def commit_history(store: Store, seed: int, count: int = 30) -> None:
    rng = random.Random(seed)
    for start in range(0, count, 5):
        await store.commit([delivery(rng, n) for n in range(start, start + 5)])


async def every_entry(store: Store, query: FeedQuery | None = None) -> list[dict[str, Any]]:
    query = query or FeedQuery(limit=7)
    found: list[dict[str, Any]] = []
    while True:
        page = await store.read_feed(query)
        found += [msgspec.json.decode(entry.entry) for entry in page.entries]
        if page.through >= page.head:
            return found
        query = msgspec.structs.replace(query, after=page.through)


async def snapshot(store: Store, position: int, limit: int = 4) -> dict[str, Any]:
    items: dict[str, Any] = {}
    after = None
    while True:
        page = await store.fetch(SnapshotQuery(position=position, after=after, limit=limit))
        items.update((found.key, item_json(found.item)) for found in page if found.item)
        if len(page) < limit:
            return items
        after = page[-1].key


class FeedContract:
    async def test_every_change_is_an_entry_in_position_order(self, store: Store) -> None:
        await commit_history(store, seed=1)
        entries = await every_entry(store)

        assert entries, "the history changes items"
        assert [entry["position"] for entry in entries] == list(range(1, len(entries) + 1))
        assert_in_order_once(entries)
        assert await store.feed_head() == len(entries)
        items = fold_entries(entries)
        for key, data in items.items():
            record = await store.fetch(ItemQuery(key=key))
            assert record is not None
            assert item_json(record) == data
        first = entries[0]
        assert (first["specversion"], first["source"]) == ("1.0", "invtrack")
        assert first["datacontenttype"] == "application/json"

    async def test_a_read_names_the_head_it_saw_and_how_far_it_looked(self, store: Store) -> None:
        await commit_history(store, seed=2)
        head = await store.feed_head()

        page = await store.read_feed(FeedQuery(after=0, limit=3))
        assert page.head == head
        assert page.through == page.entries[-1].position == 3
        none = await store.read_feed(FeedQuery(after=head, limit=3))
        assert (none.entries, none.through) == ([], head)
        narrow = FeedQuery(after=0, where=FeedFilter(types=("no.such.type",)), window=5)
        page = await store.read_feed(narrow)
        assert (page.entries, page.through) == ([], min(5, head))

    async def test_filters_pass_what_they_name(self, store: Store) -> None:
        await commit_history(store, seed=3, count=40)
        entries = await every_entry(store)
        van = "VAN-01"

        def owned(entry: dict[str, Any]) -> bool:
            return entry["data"]["resourceId"] == van or any(
                other["subject"] == entry["subject"]
                and other["position"] < entry["position"]
                and other["data"]["resourceId"] == van
                and not any(
                    between["subject"] == entry["subject"]
                    and other["position"] < between["position"] < entry["position"]
                    for between in entries
                )
                for other in entries
            )

        cases: list[tuple[FeedFilter, Callable[[dict[str, Any]], bool]]] = [
            (FeedFilter(sources=("ofs",)), lambda e: e["data"]["source"] == "ofs"),
            (FeedFilter(types=("invtrack.item.deleted",)), lambda e: e["type"].endswith("deleted")),
            (
                FeedFilter(subjects=("sm-install-",)),
                lambda e: e["subject"].startswith("sm-install-"),
            ),
            (FeedFilter(owners=(("resource", (van,)),)), owned),
        ]
        for where, passes in cases:
            got = await every_entry(store, FeedQuery(limit=4, where=where))
            assert [e["position"] for e in got] == [e["position"] for e in entries if passes(e)]

    async def test_a_snapshot_then_the_feed_equals_the_feed_from_the_start(
        self, store: Store
    ) -> None:
        await commit_history(store, seed=4, count=20)
        position = await store.feed_head()
        taken = await snapshot(store, position)
        await commit_history(store, seed=5, count=25)

        later = await snapshot(store, position)  # the same snapshot, after more changes
        assert later == taken
        following = await every_entry(store, FeedQuery(after=position, limit=5))
        assert fold_entries(following, taken) == fold_entries(await every_entry(store))

    async def test_a_waiting_reader_is_woken_by_a_commit(self, store: Store) -> None:
        head = await store.feed_head()
        waiting = asyncio.create_task(store.wait_for_feed(head, 120))
        await asyncio.sleep(0)
        await commit_history(store, seed=6, count=5)
        assert await waiting > head
        assert await store.wait_for_feed(head, 0) > head

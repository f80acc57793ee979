"""Streams woken together read the feed once (api/services/feed.py,
`SharedReads`): many readers asking for one read while it is under way share
it, and get what each would have read alone."""

from __future__ import annotations

import asyncio

from adapters.store import Store, connect
from adapters.store.feed import FeedFilter, FeedPage, FeedQuery
from api.services.feed import SharedReads
from projections.live import LiveProjector
from projections.setup import prepare
from tests.contract.support import delivery


class Counted:
    """The store, counting the feed reads that reach it."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.reads = 0

    async def read_feed(self, query: FeedQuery) -> FeedPage:
        self.reads += 1
        await asyncio.sleep(0.01)  # a read under way while the others ask
        return await self.store.read_feed(query)


async def test_readers_asking_at_once_share_one_read(database_url: str) -> None:
    store = connect(database_url, projection=LiveProjector())
    try:
        await store.migrate()
        await prepare(store)
        await store.commit([delivery(n) for n in range(6)])
        counted = Counted(store)
        shared = SharedReads(counted)  # type: ignore[arg-type]
        query = FeedQuery(after=1, limit=3)
        alone = await store.read_feed(query)
        pages = await asyncio.gather(*(shared.read(query) for _ in range(50)))
        assert counted.reads == 1
        assert pages == [alone] * 50
        other = FeedQuery(after=1, limit=3, where=FeedFilter(types=("nothing.of.the.kind",)))
        await asyncio.gather(shared.read(query), shared.read(other))
        assert counted.reads == 3
        assert await shared.read(query) == alone
        assert counted.reads == 4
    finally:
        await store.close()


async def test_a_reader_leaving_does_not_cancel_the_others(database_url: str) -> None:
    store = connect(database_url, projection=LiveProjector())
    try:
        await store.migrate()
        await prepare(store)
        await store.commit([delivery(n) for n in range(3)])
        shared = SharedReads(Counted(store))  # type: ignore[arg-type]
        query = FeedQuery(after=0, limit=10)
        leaving = asyncio.ensure_future(shared.read(query))
        staying = asyncio.ensure_future(shared.read(query))
        await asyncio.sleep(0)
        leaving.cancel()
        page = await staying
        assert page == await store.read_feed(query)
        assert page.entries
    finally:
        await store.close()

"""Following the change feed: a long poll (`poll`), Server-Sent Events
(`stream`) and a snapshot to start from (`snapshot`).

Every read is the store's one read of the feed, which answers the committed
head with the entries (one snapshot): a reader moves its position past what
it read, or past every position the read looked at, never past an entry
that could still commit below it. Waiting is on the store's signal, set when
a batch of any process commits (no polling by the waiters).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Final

import msgspec

from adapters.store import Reader, reading_after
from adapters.store.feed import ITEM_CHANGED, FeedEntry, FeedFilter, FeedPage, FeedQuery
from adapters.store.queries import SnapshotQuery
from adapters.store.records import ItemRecord

KEEP_ALIVE_SECONDS: Final = 15.0
"""Longest time an idle stream goes without a line (a comment)."""
STREAM_BATCH: Final = 500
"""Entries a stream reads at a time."""
RETRY_MILLISECONDS: Final = 2000
"""What a stream tells clients to wait before they reconnect."""


def batch_body(entries: list[FeedEntry]) -> bytes:
    """A CloudEvents batch (a JSON array) of the stored entries, as stored."""
    return ("[" + ",".join(entry.entry for entry in entries) + "]").encode()


def sse_event(entry: FeedEntry) -> bytes:
    return f"id: {entry.position}\nevent: {entry.type}\ndata: {entry.entry}\n\n".encode()


class SnapshotPage(msgspec.Struct, frozen=True, kw_only=True):
    position: int
    items: list[ItemRecord]
    last_key: str | None
    """The last key looked at when there may be more, else None."""


class SharedReads:
    """Reads of the feed asked for while the same read is under way are
    answered by that read: when a commit wakes many streams standing at one
    position with one filter, the store is read once for all of them. A page
    read a moment earlier is still a committed prefix; a reader that gets one
    from before the commit that woke it finds the head moved and reads again."""

    def __init__(self, store: Reader) -> None:
        self.store = store
        self._reading: dict[FeedQuery, asyncio.Future[FeedPage]] = {}

    async def read(self, query: FeedQuery) -> FeedPage:
        reading = self._reading.get(query)
        if reading is None:
            reading = asyncio.ensure_future(self.store.read_feed(query))
            self._reading[query] = reading
            reading.add_done_callback(lambda done: self._done(query, done))
        # A reader that leaves does not cancel the read the others wait for.
        return await asyncio.shield(reading)

    def _done(self, query: FeedQuery, done: asyncio.Future[FeedPage]) -> None:
        if self._reading.get(query) is done:
            del self._reading[query]
        if not done.cancelled():
            done.exception()  # retrieved here too, in case every reader left


class Feed:
    """The feed as its routes serve it."""

    def __init__(self, store: Reader, stop: asyncio.Event | None = None) -> None:
        self.store = store
        self.stop = stop or asyncio.Event()
        self.reads = SharedReads(store)

    async def poll(self, query: FeedQuery, seconds: float) -> FeedPage:
        """Entries after `query.after`; when there are none yet, wait up to
        `seconds` for the first one."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        page = await self.reads.read(query)
        while not page.entries and page.through >= page.head and not self.stop.is_set():
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await self.store.wait_for_feed(max(page.head, page.through), remaining)
            page = await self.reads.read(msgspec.structs.replace(query, after=page.through))
        return page

    async def stream(self, query: FeedQuery) -> AsyncIterator[bytes]:
        """Server-Sent Events from `query.after` on, until the client leaves or
        the server stops; a comment after KEEP_ALIVE_SECONDS of silence."""
        yield f"retry: {RETRY_MILLISECONDS}\n: invtrack change feed\n\n".encode()
        after = query.after
        query = msgspec.structs.replace(query, limit=STREAM_BATCH)
        while not self.stop.is_set():
            page = await self.reads.read(msgspec.structs.replace(query, after=after))
            if page.entries:
                yield b"".join(sse_event(entry) for entry in page.entries)
            after = page.through
            if page.entries or page.through < page.head:
                continue
            # Nothing can come before the head passes the stream's position
            # (a Last-Event-ID may be ahead of it): no wake until then.
            waited = max(page.head, after)
            head = await self._wait(waited)
            if head <= waited and not self.stop.is_set():
                yield b": idle\n\n"

    async def heads(self, after: int) -> AsyncIterator[bytes]:
        """Server-Sent Events naming the feed's head each time it moves past
        `after` (`event: changed`, `id:` and `data:` the head), for pages that
        read themselves again; a comment after KEEP_ALIVE_SECONDS of silence."""
        yield f"retry: {RETRY_MILLISECONDS}\n: invtrack changes\n\n".encode()
        head = await self.store.feed_head()
        while not self.stop.is_set():
            if head > after:
                yield f"id: {head}\nevent: changed\ndata: {head}\n\n".encode()
                after = head
            head = await self._wait(after)
            if head <= after and not self.stop.is_set():
                yield b": idle\n\n"

    async def _wait(self, head: int) -> int:
        """The head once past `head`, or after the keep-alive time, or at stop."""
        waiting = asyncio.ensure_future(self.store.wait_for_feed(head, KEEP_ALIVE_SECONDS))
        stopping = asyncio.ensure_future(self.stop.wait())
        try:
            await asyncio.wait((waiting, stopping), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not waiting.done():
                waiting.cancel()
        return waiting.result() if waiting.done() and not waiting.cancelled() else head

    async def snapshot(
        self, where: FeedFilter, limit: int, position: int | None, after: str | None
    ) -> SnapshotPage:
        """A page of every current item at one feed position (the head when
        `position` is None: a new snapshot), by key after `after`."""
        if position is None:
            position = await self.store.feed_head()
        if where.types and ITEM_CHANGED not in where.types:
            return SnapshotPage(position=position, items=[], last_key=None)
        query = SnapshotQuery(
            position=position,
            after=after,
            limit=limit,
            prefixes=where.subjects,
            owners=where.owners,
        )
        # Every page of one snapshot from a copy that shows its position.
        with reading_after(feed_position=position):
            found = await self.store.fetch(query)
        items = [item.item for item in found if item.item is not None and _passes(item.item, where)]
        last = found[-1].key if len(found) >= limit else None
        return SnapshotPage(position=position, items=items, last_key=last)


def _passes(item: ItemRecord, where: FeedFilter) -> bool:
    """Whether the item at the snapshot's position passes the filter."""
    if where.sources and item.source not in where.sources:
        return False
    owners = {"resource": item.resource_id, "customer": item.customer_number}
    owners["activity"] = item.activity_id
    return all(owners[kind] in names for kind, names in where.owners)

"""What an ingest run added to a store, read from outside the server through
the store's port.

A mark is the store's last event position and how many payloads it has
accepted. Before and after a measured run the bench waits until the store
stops growing (requests still in flight when the load generator stopped are
committed or failed by then), marks it, and counts what lies between the two
marks: the events, and the accepted payloads they came with. The bench is the
only writer during a run, so that is exactly what the run's requests stored.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

import msgspec

from adapters.store import connect


class Mark(msgspec.Struct, frozen=True):
    position: int
    accepted: int


class Grown(msgspec.Struct, frozen=True, kw_only=True):
    events: int
    """Events stored after the first mark."""
    deliveries: int
    """Payloads accepted after the first mark."""


class Counter(Protocol):
    def mark(self) -> Mark: ...

    def grown(self, since: Mark) -> Grown: ...


class StoreCounter:
    """Counts a store at a URL, on a connection of its own each time."""

    def __init__(self, url: str) -> None:
        self.url = url

    def mark(self) -> Mark:
        return asyncio.run(self._mark())

    def grown(self, since: Mark) -> Grown:
        return asyncio.run(self._grown(since))

    async def _mark(self) -> Mark:
        store = connect(self.url, pool_size=1)
        try:
            head = await store.head()
            accepted = (await store.inbox_counts()).get("accepted", 0)
        finally:
            await store.close()
        return Mark(head, accepted)

    async def _grown(self, since: Mark) -> Grown:
        store = connect(self.url, pool_size=1)
        try:
            events = await store.count_after(since.position)
            accepted = (await store.inbox_counts()).get("accepted", 0)
        finally:
            await store.close()
        return Grown(events=events, deliveries=accepted - since.accepted)


def settled(counter: Counter, *, every: float = 0.25, limit: float = 30.0) -> Mark:
    """The store's mark once two readings `every` seconds apart agree."""
    deadline = time.monotonic() + limit
    last = counter.mark()
    while time.monotonic() < deadline:
        time.sleep(every)
        now = counter.mark()
        if now == last:
            return now
        last = now
    raise RuntimeError(f"the store kept growing for {limit:.0f} s after the load stopped")

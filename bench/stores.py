"""What an ingest run added to a store, read from outside the server through
the store's port.

A mark is the store's last event position and last inbox id. Before and after
a measured run the bench waits until the store stops growing, marks it, and
counts what lies after the first mark and was sent by the run: every run signs
its requests with a token of its own subject (`sender`), which the store keeps
with each payload. So the count is exactly what the run's requests stored,
also when payloads of the run before (the warm-up) are still being committed
while this one goes: a quiet quarter of a second does not prove that nothing
is queued in the server, and those payloads are counted apart (`strays`).
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

import msgspec

from adapters.store import connect


class Mark(msgspec.Struct, frozen=True):
    position: int
    inbox_id: int


class Grown(msgspec.Struct, frozen=True, kw_only=True):
    events: int
    """Events stored after the first mark with the run's payloads."""
    deliveries: int
    """The run's payloads accepted after the first mark."""
    strays: int = 0
    """Payloads of other senders (an earlier run) accepted after the first mark."""


class Counter(Protocol):
    def mark(self) -> Mark: ...

    def grown(self, since: Mark, sender: str) -> Grown: ...


class StoreCounter:
    """Counts a store at a URL, on a connection of its own each time."""

    def __init__(self, url: str) -> None:
        self.url = url

    def mark(self) -> Mark:
        return asyncio.run(self._mark())

    def grown(self, since: Mark, sender: str) -> Grown:
        return asyncio.run(self._grown(since, sender))

    async def _mark(self) -> Mark:
        store = connect(self.url, pool_size=1)
        try:
            return Mark(await store.head(), await store.inbox_head())
        finally:
            await store.close()

    async def _grown(self, since: Mark, sender: str) -> Grown:
        store = connect(self.url, pool_size=1)
        try:
            found = await store.received_from(
                sender, after_id=since.inbox_id, after_position=since.position
            )
        finally:
            await store.close()
        return Grown(events=found.events, deliveries=found.accepted, strays=found.others)


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

"""What an ingest run added to a store, read from outside the server.

A mark is the store's last event position and last inbox id. Before and after
a measured run the bench waits until the store stops growing (requests still
in flight when the load generator stopped are committed or failed by then),
marks it, and counts what lies between the two marks: the events, and the
accepted payloads (inbox rows) they came with. The bench is the only writer
during a run, so that is exactly what the run's requests stored.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from typing import Final, Protocol

import asyncpg
import msgspec

from bench.pg import plain

_HEAD: Final = (
    "SELECT (SELECT coalesce(max(position), 0) FROM events), "
    "(SELECT coalesce(max(id), 0) FROM inbox)"
)
_EVENTS_AFTER: Final = "SELECT count(*) FROM events WHERE position > {}"
_ACCEPTED_AFTER: Final = "SELECT count(*) FROM inbox WHERE id > {} AND status = 'accepted'"


class Mark(msgspec.Struct, frozen=True):
    position: int
    inbox_id: int


class Grown(msgspec.Struct, frozen=True, kw_only=True):
    events: int
    """Events stored after the first mark."""
    deliveries: int
    """Payloads accepted after the first mark."""


class Counter(Protocol):
    def mark(self) -> Mark: ...

    def grown(self, since: Mark) -> Grown: ...


class PostgresCounter:
    def __init__(self, url: str) -> None:
        self.url = plain(url)

    def mark(self) -> Mark:
        position, inbox_id = asyncio.run(self._fetch(_HEAD))
        return Mark(position, inbox_id)

    def grown(self, since: Mark) -> Grown:
        (events,) = asyncio.run(self._fetch(_EVENTS_AFTER.format("$1"), since.position))
        (deliveries,) = asyncio.run(self._fetch(_ACCEPTED_AFTER.format("$1"), since.inbox_id))
        return Grown(events=events, deliveries=deliveries)

    async def _fetch(self, query: str, *args: int) -> tuple[int, ...]:
        conn = await asyncpg.connect(self.url, timeout=10)
        try:
            row = await conn.fetchrow(query, *args)
        finally:
            await conn.close()
        assert row is not None
        return tuple(int(value) for value in row)


class SqliteCounter:
    def __init__(self, path: str) -> None:
        self.path = path

    def mark(self) -> Mark:
        position, inbox_id = self._fetch(_HEAD)
        return Mark(position, inbox_id)

    def grown(self, since: Mark) -> Grown:
        (events,) = self._fetch(_EVENTS_AFTER.format("?"), since.position)
        (deliveries,) = self._fetch(_ACCEPTED_AFTER.format("?"), since.inbox_id)
        return Grown(events=events, deliveries=deliveries)

    def _fetch(self, query: str, *args: int) -> tuple[int, ...]:
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        try:
            row = conn.execute(query, args).fetchone()
        finally:
            conn.close()
        return tuple(int(value) for value in row)


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

"""What an ingest run added to a store, read from outside the server.

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
_GROWN: Final = (
    "SELECT "
    "(SELECT count(*) FROM events AS e JOIN inbox AS i ON i.id = e.inbox_id "
    " WHERE e.position > {0} AND i.id > {1} AND i.sender = {2}), "
    "(SELECT count(*) FROM inbox WHERE id > {1} AND status = 'accepted' AND sender = {2}), "
    "(SELECT count(*) FROM inbox WHERE id > {1} AND status = 'accepted' "
    " AND (sender IS NULL OR sender <> {2}))"
)
_GROWN_PG: Final = _GROWN.format("$1", "$2", "$3")
_GROWN_SQLITE: Final = _GROWN.format("?1", "?2", "?3")


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


class PostgresCounter:
    def __init__(self, url: str) -> None:
        self.url = plain(url)

    def mark(self) -> Mark:
        position, inbox_id = asyncio.run(self._fetch(_HEAD))
        return Mark(position, inbox_id)

    def grown(self, since: Mark, sender: str) -> Grown:
        found = asyncio.run(self._fetch(_GROWN_PG, since.position, since.inbox_id, sender))
        events, deliveries, strays = found
        return Grown(events=events, deliveries=deliveries, strays=strays)

    async def _fetch(self, query: str, *args: int | str) -> tuple[int, ...]:
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

    def grown(self, since: Mark, sender: str) -> Grown:
        events, deliveries, strays = self._fetch(
            _GROWN_SQLITE, since.position, since.inbox_id, sender
        )
        return Grown(events=events, deliveries=deliveries, strays=strays)

    def _fetch(self, query: str, *args: int | str) -> tuple[int, ...]:
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

"""The change feed on PostgreSQL: its read (entries and the committed head in
one statement, so one snapshot), and waking readers in other processes:
a batch that adds entries sends `NOTIFY invtrack_feed` inside its
transaction (delivered at commit), and each process keeps one connection
listening while anyone waits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Final

import asyncpg

from adapters.store.feed import FeedEntry, FeedPage, FeedQuery, like_prefix, page_of
from adapters.store.port import LAST
from adapters.store.postgres.queries import Parameters

log = logging.getLogger("invtrack.feed")

FEED_CHANNEL: Final = "invtrack_feed"
FEED_NOTIFY: Final = "SELECT pg_notify('invtrack_feed', ${0}::text)"
"""The end of a batch's write statement when it adds entries: the new head
goes to every listener when the transaction commits."""

RECONNECT_SECONDS: Final = 1.0


def _conditions(query: FeedQuery, p: Parameters, after: str, last: str) -> list[str]:
    where = query.where
    conditions = [f"position > {after}", f"position <= {last}"]
    if where.types:
        conditions.append(f"type {p.in_list(where.types)}")
    if where.sources:
        conditions.append(f"source {p.in_list(where.sources)}")
    if where.subjects:
        likes = [f"subject LIKE {p(like_prefix(prefix))} ESCAPE '\\'" for prefix in where.subjects]
        conditions.append(f"({' OR '.join(likes)})")
    for kind, owners in where.owners:
        conditions.append(
            f"position IN (SELECT o.position FROM feed_owners AS o "  # noqa: S608
            f"WHERE o.kind = {p(kind)} AND o.owner {p.in_list(owners)} "
            f"AND o.position > {after} AND o.position <= {last})"
        )
    return conditions


def read_statement(query: FeedQuery) -> tuple[str, list[Any]]:
    p = Parameters()
    after = p(query.after)
    last = f"least(h.head, {p(LAST if query.where.everything else query.after + query.window)})"
    conditions = " AND ".join(_conditions(query, p, after, last))
    return (
        "WITH h AS (SELECT coalesce(max(position), 0) AS head FROM feed) "  # noqa: S608
        "SELECT h.head, f.position, f.type, f.entry FROM h LEFT JOIN LATERAL "
        f"(SELECT position, type, entry FROM feed WHERE {conditions} "
        f"ORDER BY position LIMIT {p(query.limit)}) AS f ON true ORDER BY f.position",
        p.values,
    )


async def read(conn: asyncpg.Connection, query: FeedQuery) -> FeedPage:
    statement, parameters = read_statement(query)
    records = await conn.fetch(statement, *parameters)
    head = int(records[0][0])
    entries = [FeedEntry(r[1], r[2], r[3]) for r in records if r[1] is not None]
    return page_of(query, head, entries)


HEAD: Final = "SELECT coalesce(max(position), 0) FROM feed"
RECORDED_BEFORE: Final = (
    "SELECT coalesce(max(position), 0) FROM feed WHERE position < "
    "coalesce((SELECT min(position) FROM feed WHERE recorded_at >= $1), "
    "(SELECT coalesce(max(position), 0) + 1 FROM feed))"
)
"""The last position recorded before a time."""


class Listener:
    """One connection listening on FEED_CHANNEL, kept open (and opened again
    after it is lost) once started; each head it hears, and the head read
    whenever it (re)connects, goes to `heard`."""

    def __init__(self, dsn: str, settings: dict[str, str], heard: Callable[[int], None]) -> None:
        self.dsn = dsn
        self.settings = settings
        self.heard = heard
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._keep(), name="invtrack-feed-listener")

    async def _keep(self) -> None:
        while True:
            try:
                await self._listen()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("listening for feed entries failed (%s); again shortly", error)
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _listen(self) -> None:
        conn = await asyncpg.connect(self.dsn, server_settings=self.settings)
        lost = asyncio.Event()
        try:
            conn.add_termination_listener(lambda _: lost.set())
            await conn.add_listener(FEED_CHANNEL, self._notified)
            # What committed before the LISTEN took effect was not heard.
            self.heard(int(await conn.fetchval(HEAD)))
            await lost.wait()
        finally:
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        with contextlib.suppress(ValueError):
            self.heard(int(payload))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

"""The change feed on SQLite: its read (the committed head and the entries in
one read transaction, so one snapshot), and noticing commits of other
processes on the same file: while anyone waits, the head is read a few
times a second (one lookup of the primary key's last row)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Final

from adapters.store.common.feed_watch import FeedWatch
from adapters.store.feed import FeedEntry, FeedPage, FeedQuery, like_prefix, page_of
from adapters.store.port import LAST
from adapters.store.sqlite.statements import json_list, to_text

HEAD: Final = "SELECT coalesce(max(position), 0) FROM feed"
FOLLOW_SECONDS: Final = 0.25
"""Time between two reads of the head while someone waits."""


def _conditions(query: FeedQuery, values: list[Any], last: int) -> list[str]:
    where = query.where
    conditions = ["position > ?", "position <= ?"]
    values += [query.after, last]
    if where.types:
        conditions.append("type IN (SELECT value FROM json_each(?))")
        values.append(json_list(where.types))
    if where.sources:
        conditions.append("source IN (SELECT value FROM json_each(?))")
        values.append(json_list(where.sources))
    if where.subjects:
        conditions.append(
            "(" + " OR ".join("subject LIKE ? ESCAPE '\\'" for _ in where.subjects) + ")"
        )
        values += [like_prefix(prefix) for prefix in where.subjects]
    for kind, owners in where.owners:
        conditions.append(
            "position IN (SELECT o.position FROM feed_owners AS o WHERE o.kind = ? "
            "AND o.owner IN (SELECT value FROM json_each(?)) "
            "AND o.position > ? AND o.position <= ?)"
        )
        values += [kind, json_list(owners), query.after, last]
    return conditions


def read(conn: sqlite3.Connection, query: FeedQuery) -> FeedPage:
    conn.execute("BEGIN")
    try:
        head = conn.execute(HEAD).fetchone()[0]
        values: list[Any] = []
        last = min(head, LAST if query.where.everything else query.after + query.window)
        conditions = " AND ".join(_conditions(query, values, last))
        rows = conn.execute(
            f"SELECT position, type, entry FROM feed WHERE {conditions} "  # noqa: S608
            "ORDER BY position LIMIT ?",
            (*values, query.limit),
        ).fetchall()
    finally:
        conn.execute("COMMIT")
    return page_of(query, head, [FeedEntry(*row) for row in rows])


def head(conn: sqlite3.Connection) -> int:
    return int(conn.execute(HEAD).fetchone()[0])


def recorded_before(conn: sqlite3.Connection, moment: datetime) -> int:
    """The last position recorded before `moment`."""
    first = conn.execute(
        "SELECT min(position) FROM feed WHERE recorded_at >= ?", (to_text(moment),)
    ).fetchone()[0]
    if first is None:
        return head(conn)
    return int(first) - 1


class Follower:
    """Reads the head a few times a second while anyone waits."""

    def __init__(self, read_head: Callable[[], Awaitable[int]]) -> None:
        self.read_head = read_head
        self._task: asyncio.Task[None] | None = None

    def __call__(self, watch: FeedWatch) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._follow(watch), name="invtrack-feed-follower")

    async def _follow(self, watch: FeedWatch) -> None:
        while watch.waiting:
            with contextlib.suppress(sqlite3.Error):  # the next read will tell
                watch.advance(await self.read_head())
            await asyncio.sleep(FOLLOW_SECONDS)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

"""On SQLite, what is committed reaches the database file while commits go on,
checkpointed off the writer's path (the writer only writes)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from adapters.store import NewEvent, Store
from tests.harness.databases import migrated_store

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def event(n: int) -> NewEvent:
    return NewEvent(
        stream_id="stream-a",
        type="test.Happened",
        data={"n": n},
        occurred_at=T0,
        dedupe_key=f"e{n}",
    )


def in_database_file(path: Path) -> int:
    """Events in the database file alone, as if the WAL were lost."""
    conn = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    except sqlite3.OperationalError:  # not even the table has reached it
        return 0
    finally:
        conn.close()


async def test_commits_reach_the_database_file_without_the_wal_filling_up(
    tmp_path: Path,
) -> None:
    path = tmp_path / "invtrack.db"
    async with migrated_store(f"sqlite+aiosqlite:///{path}") as store:
        # A few small commits: far from the pages that make the writer
        # checkpoint itself, so only the checkpoints off its path copy them.
        for n in range(5):
            await store.append([event(n)])
        found = await until_copied(store, path)
    assert found >= 5


async def until_copied(store: Store, path: Path, *, deadline: float = 20.0) -> int:
    """Commit now and then (a commit is what makes a checkpoint due, once some
    time has passed since the last) until the first five events are in the
    file, or the deadline passes."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    n = 5
    while (found := in_database_file(path)) < 5 and loop.time() < end:
        await store.append([event(n)])
        n += 1
        await asyncio.sleep(0.05)
    return found

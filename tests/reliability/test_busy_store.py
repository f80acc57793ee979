"""A store whose write lock another process holds: senders get 503 with
`Retry-After` once the configured busy time is over, never a false 200, and
`/ready` says the service is not ready; once the lock is free, deliveries go
in again. On SQLite the lock is a `BEGIN IMMEDIATE` elsewhere; on PostgreSQL
a session holding invtrack's append lock (a stuck connection).

And several servers starting together on a fresh SQLite file all come up:
the first migrates, the others wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from adapters.store import EventStore, connect
from adapters.store.postgres import APPEND_LOCK
from tests.harness.deliveries import envelope_for
from tests.harness.reading import all_inbox
from tests.harness.server import Server
from tests.harness.tokens import sender

BUSY = {"INVTRACK_STORE_BUSY_SECONDS": "1"}


@contextlib.contextmanager
def sqlite_lock_held(database_url: str) -> Iterator[None]:
    path = make_url(database_url).database or ""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


@contextlib.asynccontextmanager
async def append_lock_held(database_url: str) -> AsyncIterator[None]:
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    conn = await asyncpg.connect(dsn)
    await conn.execute(f"SELECT pg_advisory_lock({APPEND_LOCK})")
    try:
        yield
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def lock_held(database_url: str) -> AsyncIterator[None]:
    if database_url.startswith("sqlite"):
        with sqlite_lock_held(database_url):
            yield
    else:
        async with append_lock_held(database_url):
            yield


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    started = Server(database_url=database_url, workdir=tmp_path / "busy", extra_env=BUSY)
    started.start()
    try:
        yield started
    finally:
        started.kill()


async def deliver(client: httpx.AsyncClient, envelope_id: str) -> httpx.Response:
    envelope = envelope_for("InventoryUsage", envelope_id)
    return await client.post(
        "/servicemobility/InventoryUsage/", content=json.dumps(envelope), headers=sender()
    )


async def test_a_held_write_lock_gives_503_then_deliveries_go_in(
    server: Server, database_url: str
) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        async with lock_held(database_url):
            refused = await asyncio.gather(*(deliver(client, f"busy-{n}") for n in range(5)))
            ready = await client.get("/ready")
            # Answered while the lock is still held: none can have been committed.
            assert [r.status_code for r in refused] == [503] * 5
            assert all(r.headers.get("retry-after") for r in refused)
            assert ready.status_code == 503
        accepted = await asyncio.gather(*(deliver(client, f"busy-{n}") for n in range(5)))
        assert [r.json()["duplicate"] for r in accepted] == [False] * 5
        assert (await client.get("/ready")).status_code == 200
    database = connect(database_url)
    try:
        inbox = await all_inbox(EventStore(database))
    finally:
        await database.dispose()
    assert sorted(row.message_id or "" for row in inbox) == [f"busy-{n}" for n in range(5)]


def test_servers_starting_together_on_a_fresh_sqlite_file_all_come_up(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh' / 'invtrack.db'}"
    servers = [Server(database_url=url, workdir=tmp_path / f"s{n}") for n in range(3)]
    try:
        for server in servers:
            server.launch()
        for server in servers:
            assert server.wait_healthy(), server.log()[-3000:]
    finally:
        for server in servers:
            server.kill()
    assert all("database is locked" not in server.log() for server in servers)

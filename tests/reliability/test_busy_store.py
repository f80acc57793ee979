"""A store whose write lock another process holds: senders get 503 with
`Retry-After` once the configured busy time is over, never a false 200, and
`/ready` says the service is not ready; once the lock is free, deliveries go
in again. The lock is held by another connection's maintenance transaction
(on SQLite a `BEGIN IMMEDIATE` elsewhere, on PostgreSQL a transaction holding
invtrack's append lock, as a stuck connection would).

And several servers starting together on a fresh SQLite file all come up:
the first migrates, the others wait for it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adapters.store import connect
from tests.harness.deliveries import envelope_for
from tests.harness.locks import append_lock_held
from tests.harness.reading import all_inbox
from tests.harness.server import Server
from tests.harness.tokens import sender

BUSY = {"INVTRACK_STORE_BUSY_SECONDS": "1"}


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
        async with append_lock_held(database_url):
            refused = await asyncio.gather(*(deliver(client, f"busy-{n}") for n in range(5)))
            ready = await client.get("/ready")
            # Answered while the lock is still held: none can have been committed.
            assert [r.status_code for r in refused] == [503] * 5
            assert all(r.headers.get("retry-after") for r in refused)
            assert ready.status_code == 503
        accepted = await asyncio.gather(*(deliver(client, f"busy-{n}") for n in range(5)))
        assert [r.json()["duplicate"] for r in accepted] == [False] * 5
        assert (await client.get("/ready")).status_code == 200
    store = connect(database_url)
    try:
        inbox = await all_inbox(store)
    finally:
        await store.close()
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

"""PostgreSQL going away under a running `invtrack serve`: requests during the
outage get 500 or 503, never 200; the service recovers by itself once the
database is back, without a restart; nothing it acknowledged is lost.

The outage is a TCP proxy between the server and PostgreSQL that drops every
connection and refuses new ones, so the real server keeps serving others.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from adapters.store import connect
from tests.harness.deliveries import envelope_for, ofs_event, post_json
from tests.harness.reading import all_inbox, assert_projection_is_the_replay
from tests.harness.server import Proxy, Server, pg_target, through
from tests.harness.soak import soak_only
from tests.harness.tokens import reader

RECOVERY_TIMEOUT = 60.0
"""Seconds the service may take to answer 200 again once the database is back."""


@pytest.fixture
async def proxied(
    servers: Callable[..., Server], pg_databases: Callable[[], str]
) -> AsyncIterator[tuple[Proxy, Server, str]]:
    """A server whose every database connection goes through a proxy."""
    database_url = await asyncio.to_thread(pg_databases)
    proxy = Proxy(*pg_target(database_url))
    await proxy.start()
    server = await asyncio.to_thread(servers, through(database_url, proxy.port), "outage")
    try:
        yield proxy, server, database_url
    finally:
        server.kill()
        await proxy.close()


class Ledger:
    """Deliveries sent, and the ones acknowledged."""

    def __init__(self) -> None:
        self.count = 0
        self.sent: list[dict[str, Any] | list[Any]] = []
        self.acked: list[dict[str, Any] | list[Any]] = []

    def next(self) -> tuple[str, dict[str, Any] | list[Any]]:
        self.count += 1
        if self.count % 3 == 0:
            return "/ofs/events", [
                ofs_event(self.count, "resourceInventoryCreated", "2026-11-20 09:00:00")
            ]
        kind = "InventoryUsage" if self.count % 3 == 1 else "LoadInventory"
        return f"/servicemobility/{kind}/", envelope_for(kind, f"outage-{self.count}")

    async def send(self, client: httpx.AsyncClient) -> int:
        path, body = self.next()
        self.sent.append(body)
        response = await post_json(client, path, body)
        if response.status_code == 200:
            self.acked.append(body)
        else:
            assert response.headers["content-type"].startswith("application/problem+json")
        return response.status_code


async def during_outage(client: httpx.AsyncClient, ledger: Ledger) -> set[int]:
    """Statuses of deliveries and queries sent while the database is away."""
    statuses: set[int] = set()
    for _ in range(4):
        answers = await asyncio.gather(*(ledger.send(client) for _ in range(6)))
        statuses.update(answers)
        for path in ("/resources/VAN-1/inventories", "/inventories/sm-x/history"):
            response = await client.get(path, headers=reader())
            statuses.add(response.status_code)
        await asyncio.sleep(0.25)
    return statuses


async def recovered(client: httpx.AsyncClient, ledger: Ledger) -> None:
    """Wait until a delivery is acknowledged again."""
    deadline = time.monotonic() + RECOVERY_TIMEOUT
    while await ledger.send(client) != 200:
        assert time.monotonic() < deadline, "the service did not recover by itself"
        await asyncio.sleep(0.2)


async def outage_cycle(proxy: Proxy, server: Server, client: httpx.AsyncClient) -> Ledger:
    ledger = Ledger()
    for _ in range(6):
        assert await ledger.send(client) == 200

    await proxy.cut()
    statuses = await during_outage(client, ledger)
    assert statuses <= {500, 503}, statuses
    assert (await client.get("/health")).status_code == 200
    assert (await client.get("/ready")).status_code == 503

    await proxy.restore()
    await recovered(client, ledger)
    assert server.alive
    assert (await client.get("/ready")).status_code == 200

    # The database went away while the service was idle: its pooled
    # connections are dead, and the next request must not notice.
    await proxy.cut()
    await proxy.restore()
    for _ in range(3):
        assert await ledger.send(client) == 200
    return ledger


async def test_an_outage_is_answered_with_errors_and_recovered_from(
    proxied: tuple[Proxy, Server, str],
) -> None:
    proxy, server, database_url = proxied
    pid = server.process.pid if server.process else None
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        ledger = await outage_cycle(proxy, server, client)
        assert server.process is not None
        assert server.process.pid == pid
        assert await message_ids(database_url) >= {message_id(body) for body in ledger.acked}

        # Everything sent is delivered again.
        for body in ledger.sent:
            path = "/ofs/events" if isinstance(body, list) else f"/servicemobility/{body['type']}/"
            response = await post_json(client, path, body)
            assert response.status_code == 200, response.text
    assert await message_ids(database_url) == {message_id(body) for body in ledger.sent}
    await assert_projection_is_the_replay(database_url, server.url)


def message_id(body: dict[str, Any] | list[Any]) -> str:
    """The id a delivery is kept under: the envelope id, or the OFS body's digest."""
    if isinstance(body, dict):
        return str(body["id"])
    return "sha256:" + hashlib.sha256(json.dumps(body).encode()).hexdigest()


async def message_ids(database_url: str) -> set[str]:
    """The message ids of the accepted payloads; each must be there only once."""
    store = connect(database_url)
    try:
        inbox = [row for row in await all_inbox(store) if row.status == "accepted"]
    finally:
        await store.close()
    ids = [row.message_id or "" for row in inbox]
    assert len(ids) == len(set(ids))
    return set(ids)


@pytest.mark.soak
@pytest.mark.timeout(3600)
@soak_only
async def test_repeated_outages(proxied: tuple[Proxy, Server, str]) -> None:
    proxy, server, database_url = proxied
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        for _ in range(20):
            await outage_cycle(proxy, server, client)
    await assert_projection_is_the_replay(database_url, server.url)

"""Many large OFS pages at once: the memory they take does not grow with how
many arrive together, and small deliveries and `/health` are answered while
the large pages are still going in, not after them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness.deliveries import envelope_for
from tests.harness.server import Server
from tests.harness.tokens import relay, sender

FEW, MANY = 8, 48
"""Large pages sent at once in the first wave and in the second."""
PAGE_BYTES = 1_000_000
MEMORY_MB = 500


def large_page(number: int) -> bytes:
    """An Events API page of about PAGE_BYTES, every event a new record."""
    items: list[dict[str, Any]] = []
    while len(items) % 100 or len(json.dumps(items)) < PAGE_BYTES:
        record = number * 100_000 + len(items)
        details = {"inventoryId": record, "inventoryType": "MODEM", "status": "resource"}
        items.append(
            {
                "eventType": "resourceInventoryCreated",
                "time": "2026-11-20 09:00:00",
                "inventoryDetails": {
                    **details,
                    "serialNumber": f"SN-{record}",
                    "XA_NOTE": "n" * 200,
                },
                "inventoryChanges": {**details, "resourceId": f"TECH_{number % 200:03d}"},
            }
        )
    return json.dumps({"found": True, "nextPage": str(number), "items": items}).encode()


def memory_mb(server: Server) -> dict[str, int]:
    assert server.process is not None
    fields = Path(f"/proc/{server.process.pid}/status").read_text().splitlines()
    return {
        name: int(value.split()[0]) // 1024
        for name, _, value in (line.partition(":") for line in fields)
        if name in ("VmRSS", "VmHWM")
    }


@pytest.fixture
def server(servers: Callable[..., Server], pg_databases: Callable[[], str]) -> Server:
    return servers(pg_databases(), "large", INVTRACK_MAX_BODY_BYTES=str(2 * PAGE_BYTES))


async def wave(client: httpx.AsyncClient, first: int, pages: int) -> list[str]:
    """Send large pages, and small deliveries and health checks while they go
    in: the n-th small one once n + 1 large pages are answered (and before
    the last is); what finished, in order."""
    finished: list[str] = []
    answered = [asyncio.Event() for _ in range(pages)]

    async def large(number: int) -> None:
        answer = await client.post("/ofs/events", content=large_page(number), headers=relay())
        assert answer.status_code == 200, answer.text
        answered[finished.count("large")].set()
        finished.append("large")

    async def after_large_ones(number: int) -> None:
        await answered[number].wait()
        # Sent while large pages still go in.
        assert finished.count("large") < pages, finished

    async def small(number: int) -> None:
        await after_large_ones(number)
        body = json.dumps(envelope_for("InventoryUsage", f"small-{first}-{number}"))
        answer = await client.post(
            "/servicemobility/InventoryUsage/", content=body, headers=sender()
        )
        assert answer.status_code == 200, answer.text
        finished.append("small")

    async def health(number: int) -> None:
        await after_large_ones(number)
        assert (await client.get("/health")).status_code == 200
        finished.append("health")

    await asyncio.gather(
        *(large(first + n) for n in range(pages)),
        *(small(n) for n in range(5)),
        *(health(n) for n in range(5)),
    )
    return finished


async def test_large_pages_keep_memory_bounded_and_others_answered(server: Server) -> None:
    before = memory_mb(server)["VmRSS"]
    limits = httpx.Limits(max_connections=MANY + 20)
    async with httpx.AsyncClient(base_url=server.url, timeout=300, limits=limits) as client:
        await wave(client, 1, FEW)
        few = memory_mb(server)["VmHWM"] - before
        finished = await wave(client, 1 + FEW, MANY)
        many = memory_mb(server)["VmHWM"] - before
    # Six times the pages at once, not six times the memory: they are taken
    # in a few at a time.
    assert many < 2 * few + 50, (few, many)
    assert memory_mb(server)["VmHWM"] < MEMORY_MB
    # Not queued behind the large pages: answered while they still go in.
    last_large = max(n for n, what in enumerate(finished) if what == "large")
    assert all(n < last_large for n, what in enumerate(finished) if what != "large"), finished

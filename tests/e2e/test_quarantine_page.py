"""The quarantine page and its downloads over megabyte payloads, on SQLite
and PostgreSQL: the page reads only the part of each body it shows (memory
follows what is shown, not what is kept), and a body downloads whole,
streamed a chunk at a time."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.store import Delivery, InboxEntry
from tests.e2e.test_dashboard_pages import sign_in
from tests.harness.live import Live, live_app, settings_for

MIB = 1024 * 1024
PAYLOADS = 25


@pytest.fixture
async def live(database_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    async with live_app(settings_for(database_url, tmp_path)) as running:
        yield running


def body(number: int, size: int) -> bytes:
    head = b'{"note": "kept payload %d", "pad": "' % number
    return head + b"x" * (size - len(head) - 2) + b'"}'


async def keep(live: Live, payloads: list[bytes]) -> list[int]:
    """Quarantine the payloads (as a receiver that cannot read them would)."""
    for number, raw in enumerate(payloads):
        entry = InboxEntry(
            source="servicemobility",
            kind="InventoryUsage",
            body=raw,
            received_at=datetime.now(UTC),
            message_id=f"big-{number}",
            content_type="application/json",
        )
        await live.store.commit([Delivery(inbox=entry, rejected="cannot be read")])
    return [record.id for record in await live.store.inbox_entries("quarantined", limit=1000)]


async def peak_bytes(work: Any) -> tuple[Any, int]:
    """What `work` returns, and the most memory Python held meanwhile."""
    tracemalloc.start()
    try:
        done = await work
        return done, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_the_page_reads_only_what_it_shows(live: Live) -> None:
    await keep(live, [body(n, MIB) for n in range(PAYLOADS)])
    await sign_in(live.client, "read")
    page, peak = await peak_bytes(live.client.get("/ui/quarantine"))
    assert page.status_code == 200
    assert page.text.count("first 64 KiB shown") == PAYLOADS
    assert "1,048,576 bytes" in page.text
    assert "kept payload 24" in page.text
    # The bodies weigh 25 MiB; the page shows 25 times 64 KiB.
    assert peak < 12 * MIB, peak


async def test_a_short_json_body_is_shown_whole_and_pretty(live: Live) -> None:
    await keep(live, [b'{"rows":[{"a":1}]}'])
    await sign_in(live.client, "read")
    page = await live.client.get("/ui/quarantine")
    assert "&#34;rows&#34;: [\n    {\n      &#34;a&#34;: 1" in page.text
    assert "first 64 KiB shown" not in page.text


async def test_a_body_downloads_whole(live: Live) -> None:
    raw = body(7, 3 * MIB + 17)
    [kept] = await keep(live, [raw])
    await sign_in(live.client, "read")
    download = await live.client.get(f"/ui/quarantine/{kept}/body")
    assert download.status_code == 200
    assert download.content == raw
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["content-disposition"] == f'attachment; filename="payload-{kept}.bin"'
    assert download.headers["x-content-type-options"] == "nosniff"
    missing = await live.client.get("/ui/quarantine/999999/body")
    assert missing.status_code == 404
    signed_out = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=live.app),  # type: ignore[arg-type]
        base_url="http://testserver",
    )
    async with signed_out:
        refused = await signed_out.get(f"/ui/quarantine/{kept}/body", follow_redirects=False)
    assert refused.status_code == 303


async def test_a_download_is_streamed_a_chunk_at_a_time(live: Live) -> None:
    """Called as a server calls the app, with the body sent on as it comes:
    the app never holds more than a chunk or two of an 8 MiB body."""
    raw = body(8, 8 * MIB)
    [kept] = await keep(live, [raw])
    await sign_in(live.client, "read")
    cookie = live.client.cookies["invtrack_session"]
    sent = {"bytes": 0, "messages": 0, "status": 0}
    requested = asyncio.Event()
    finished = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if not requested.is_set():
            requested.set()
            return {"type": "http.request", "body": b"", "more_body": False}
        await finished.wait()  # the client stays connected until the body is sent
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            sent["status"] = message["status"]
        elif message["type"] == "http.response.body":
            sent["bytes"] += len(message.get("body", b""))
            sent["messages"] += 1
            if not message.get("more_body", False):
                finished.set()

    path = f"/ui/quarantine/{kept}/body"
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"cookie", f"invtrack_session={cookie}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    _, peak = await peak_bytes(live.app(scope, receive, send))  # type: ignore[arg-type]
    assert sent["status"] == 200
    assert sent["bytes"] == len(raw)
    assert sent["messages"] >= 8 * MIB // (64 * 1024)
    assert peak < 2 * MIB, peak

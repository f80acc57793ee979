"""The change feed over HTTP: a 400 naming each parameter that cannot be used
on every route, a long poll woken by a write, snapshot pages at one position
with their cursor checked, and (against a real `invtrack serve`) a stream
that resumes after `Last-Event-ID`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.harness.deliveries import ofs_event
from tests.harness.live import Live, live_app, settings_for
from tests.harness.server import Server
from tests.harness.tokens import reader, relay


@pytest.fixture
async def live(database_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    async with live_app(settings_for(database_url, tmp_path)) as app:
        yield app


async def write(client: httpx.AsyncClient, first: int, count: int = 1) -> None:
    events = [
        ofs_event(n, "resourceInventoryCreated", f"2026-11-20 10:00:{n % 60:02d}", resourceId="T1")
        for n in range(first, first + count)
    ]
    answer = await client.post("/ofs/events", content=json.dumps(events), headers=relay())
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    ("route", "query", "field"),
    [
        ("/feed", "color=red", "color"),
        ("/feed", "after=-1", "after"),
        ("/feed", "after=abc", "after"),
        ("/feed", "after=99999999999999999999", "after"),
        ("/feed", "timeout=61", "timeout"),
        ("/feed", "timeout=nan", "timeout"),
        ("/feed", "limit=1001", "limit"),
        ("/feed", "limit=0", "limit"),
        ("/feed", "source=sap", "source"),
        ("/feed", "cursor=x", "cursor"),
        ("/feed/stream", "timeout=1", "timeout"),
        ("/feed/stream", "after=x", "after"),
        ("/feed/snapshot", "after=1", "after"),
        ("/feed/snapshot", "cursor=bm90LWEtY3Vyc29y", "cursor"),
        ("/feed/snapshot", "limit=5000", "limit"),
    ],
)
async def test_a_parameter_that_cannot_be_used_is_named(
    live: Live, route: str, query: str, field: str
) -> None:
    answer = await live.client.get(f"{route}?{query}", headers=reader())
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["errors"][0]["field"] == field


async def test_a_bad_last_event_id_is_named(live: Live) -> None:
    answer = await live.client.get("/feed/stream", headers={**reader(), "Last-Event-ID": "nope"})
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "Last-Event-ID"


async def test_the_feed_needs_a_reader(live: Live) -> None:
    assert (await live.client.get("/feed")).status_code == 401


async def test_a_long_poll_is_answered_by_the_next_write(live: Live) -> None:
    await write(live.client, 1)
    first = await live.client.get("/feed", headers=reader())
    assert first.headers["content-type"] == "application/cloudevents-batch+json"
    position = int(first.headers["feed-position"])
    assert [entry["position"] for entry in first.json()] == [position] == [1]

    waiting = asyncio.create_task(
        live.client.get(f"/feed?after={position}&timeout=60", headers=reader())
    )
    await write(live.client, 2)
    answer = await waiting
    assert [entry["subject"] for entry in answer.json()] == ["ofs-2"]
    assert answer.headers["feed-position"] == "2"
    empty = await live.client.get("/feed?after=2&timeout=0", headers=reader())
    assert (empty.json(), empty.headers["feed-position"]) == ([], "2")


async def test_snapshot_pages_stay_at_their_position(live: Live) -> None:
    await write(live.client, 1, 5)
    first = (await live.client.get("/feed/snapshot?limit=2", headers=reader())).json()
    await write(live.client, 10, 3)
    keys = [item["key"] for item in first["items"]]
    cursor = first["nextCursor"]
    while cursor:
        page = (
            await live.client.get(f"/feed/snapshot?limit=2&cursor={cursor}", headers=reader())
        ).json()
        assert page["position"] == first["position"] == 5
        keys += [item["key"] for item in page["items"]]
        cursor = page["nextCursor"]
    assert sorted(keys) == [f"ofs-{n}" for n in range(1, 6)]
    filtered = await live.client.get("/feed/snapshot?resourceId=T2", headers=reader())
    assert filtered.json()["items"] == []


async def read_events(response: httpx.Response, count: int) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    async for line in response.aiter_lines():
        if line.startswith("data: "):
            found.append(json.loads(line[6:]))
            if len(found) == count:
                return found
    return found


async def test_a_stream_resumes_after_the_last_event_id(tmp_path: Path) -> None:
    server = Server(database_url=f"sqlite+aiosqlite:///{tmp_path / 'i.db'}", workdir=tmp_path)
    await asyncio.to_thread(server.start)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            await write(client, 1, 4)
            async with client.stream("GET", "/feed/stream", headers=reader()) as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                assert [e["position"] for e in await read_events(response, 2)] == [1, 2]
            headers = {**reader(), "Last-Event-ID": "2"}
            async with client.stream("GET", "/feed/stream?after=0", headers=headers) as response:
                await write(client, 5)
                got = await read_events(response, 3)
            assert [e["position"] for e in got] == [3, 4, 5]
    finally:
        server.stop()

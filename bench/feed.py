"""The change feed's benchmarks (`make bench`, part `feed`), against a real
`invtrack serve` on the loaded PostgreSQL store:

- catch-up: the whole feed of the stored history read with `limit=1000`
  (entries/s; the feed is first filled for the bulk-loaded history);
- latency: with 1-row webhooks at half the ingest rate measured just before,
  from each webhook's 200 to its entry at an SSE client and at a push
  subscriber on loopback (p50 and p99);
- idle streams: 1,000 SSE clients held open, the server's RSS growth, and the
  ingest rate with them open next to the rate without.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

import httpx
import msgspec

from adapters.store import connect
from api.services.delivery import RENEW_SECONDS
from bench.bodies import servicemobility
from bench.memory import tree_rss
from bench.servers import invtrack_serve, running
from tests.harness.tokens import token

IDLE_STREAMS: Final = 1000
ENV: Final = {
    "INVTRACK_SUBSCRIPTION_ALLOW_PRIVATE": "1",
    "INVTRACK_SUBSCRIPTION_ALLOW_HTTP": "1",
    "INVTRACK_MAX_CONNECTIONS": "4000",
}


class FeedFigures(msgspec.Struct, kw_only=True):
    entries: int = 0
    fill_seconds: float = 0.0
    catch_up_per_second: float = 0.0
    ingest_per_second: float = 0.0
    paced_per_second: float = 0.0
    sse_p50_ms: float = 0.0
    sse_p99_ms: float = 0.0
    push_p50_ms: float = 0.0
    push_p99_ms: float = 0.0
    idle_streams: int = 0
    idle_rss_growth_mb: float = 0.0
    ingest_with_streams_per_second: float = 0.0


def measure(url: str, directory: Path, seconds: float, log: Callable[[str], None]) -> FeedFigures:
    figures = FeedFigures()
    began = time.monotonic()
    figures.entries = asyncio.run(_fill(url))
    figures.fill_seconds = round(time.monotonic() - began, 1)
    log(f"  feed filled for the history: {figures.entries:,} entries in {figures.fill_seconds} s")
    with running(invtrack_serve(url, 1, directory / "feed", ENV)) as server:
        assert server.process is not None
        asyncio.run(_measure(server.url, server.process.pid, seconds, figures, log))
    return figures


async def _fill(url: str) -> int:
    store = connect(url)
    try:
        await store.fill_feed()
        return await store.feed_head()
    finally:
        await store.close()


async def _measure(
    base: str, pid: int, seconds: float, figures: FeedFigures, log: Callable[[str], None]
) -> None:
    headers = {"Authorization": f"Bearer {token('read')}"}
    async with httpx.AsyncClient(base_url=base, timeout=120, headers=headers) as client:
        read, took = await _catch_up(client)
        figures.catch_up_per_second = round(read / took) if took else 0.0
        log(f"  catch-up: {read:,} entries in {took:.1f} s: {figures.catch_up_per_second:,.0f}/s")
        figures.ingest_per_second = round(await _ingest(base, seconds, 1))
        log(f"  ingest at full speed: {figures.ingest_per_second:,.0f} webhooks/s")
        await _latency(client, base, seconds, figures)
        log(
            f"  commit to SSE p99 {figures.sse_p99_ms:.0f} ms, to push p99 "
            f"{figures.push_p99_ms:.0f} ms at {figures.paced_per_second:,.0f}/s"
        )
        await _idle(base, pid, seconds, figures, headers)
        log(
            f"  {figures.idle_streams} idle streams: RSS +{figures.idle_rss_growth_mb:.0f} MB, "
            f"ingest {figures.ingest_with_streams_per_second:,.0f}/s with them"
        )


async def _catch_up(client: httpx.AsyncClient) -> tuple[int, float]:
    after, read = 0, 0
    began = time.monotonic()
    while True:
        answer = await client.get("/feed", params={"after": after, "limit": 1000})
        entries = answer.content.count(b'"specversion"')
        read += entries
        after = int(answer.headers["feed-position"])
        if entries == 0:
            return read, time.monotonic() - began


async def _ingest(base: str, seconds: float, run: int, rate: float | None = None) -> float:
    """1-row webhooks for `seconds` from 32 clients (at `rate` a second in
    all when given); the rate answered 200."""
    make = servicemobility(token(), 1, 900 + run)
    done = 0
    stop = time.monotonic() + seconds
    answered: dict[str, float] = _ANSWERED

    async def client(number: int) -> None:
        nonlocal done
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            n = 0
            while time.monotonic() < stop:
                _, path, request_headers, body = make(number, n)
                n += 1
                response = await http.post(path, content=body, headers=request_headers)
                if response.status_code == 200:
                    done += 1
                    answered[json.loads(body)["id"]] = time.monotonic()
                if rate:
                    await asyncio.sleep(32 / rate)

    began = time.monotonic()
    await asyncio.gather(*(client(n) for n in range(32)))
    return done / (time.monotonic() - began)


_ANSWERED: dict[str, float] = {}
"""Envelope id -> when its 200 came."""


async def _latency(
    client: httpx.AsyncClient, base: str, seconds: float, figures: FeedFigures
) -> None:
    head = int((await client.get("/feed/snapshot", params={"limit": 1})).json()["position"])
    arrived_sse: dict[str, float] = {}
    arrived_push: dict[str, float] = {}
    receiver = await asyncio.start_server(_receiver(arrived_push), "127.0.0.1", 0)
    port = receiver.sockets[0].getsockname()[1]
    admin = {"Authorization": f"Bearer {token('admin')}"}
    made = await client.post(
        "/subscriptions",
        json={"url": f"http://127.0.0.1:{port}/", "from": head, "batchSize": 100},
        headers=admin,
    )
    stream = asyncio.create_task(_follow(base, head, arrived_sse))
    # A new subscription is taken up at the deliverer's next lease renewal.
    await asyncio.sleep(RENEW_SECONDS + 1)
    _ANSWERED.clear()
    figures.paced_per_second = round(
        await _ingest(base, seconds, 2, rate=figures.ingest_per_second / 2)
    )
    await asyncio.sleep(2)  # the last deliveries arrive
    stream.cancel()
    receiver.close()
    await client.delete(f"/subscriptions/{made.json()['id']}", headers=admin)
    figures.sse_p50_ms, figures.sse_p99_ms = _percentiles(arrived_sse)
    figures.push_p50_ms, figures.push_p99_ms = _percentiles(arrived_push)


def _percentiles(arrived: dict[str, float]) -> tuple[float, float]:
    delays = sorted(
        max(arrived[key] - at, 0.0) * 1000 for key, at in _ANSWERED.items() if key in arrived
    )
    if not delays:
        return 0.0, 0.0
    return round(delays[len(delays) // 2], 1), round(delays[int(len(delays) * 0.99)], 1)


async def _follow(base: str, after: int, arrived: dict[str, float]) -> None:
    headers = {"Authorization": f"Bearer {token('read')}"}
    async with (
        httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(30, read=None)) as client,
        client.stream("GET", "/feed/stream", params={"after": after}, headers=headers) as answer,
    ):
        async for line in answer.aiter_lines():
            if line.startswith("data: "):
                message = json.loads(line[6:])["data"]["change"]["messageId"]
                arrived.setdefault(message, time.monotonic())


def _receiver(
    arrived: dict[str, float],
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                body = await reader.readexactly(length)
                now = time.monotonic()
                for entry in json.loads(body):
                    arrived.setdefault(entry["data"]["change"]["messageId"], now)
                writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        writer.close()

    return handle


async def _idle(
    base: str, pid: int, seconds: float, figures: FeedFigures, headers: dict[str, str]
) -> None:
    before = tree_rss(pid)
    host, port = base.removeprefix("http://").split(":")
    request = (
        f"GET /feed/stream HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: {headers['Authorization']}\r\nLast-Event-ID: 999999999999\r\n\r\n"
    ).encode()
    streams: list[asyncio.StreamWriter] = []
    for _ in range(IDLE_STREAMS):
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(request)
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")
        streams.append(writer)
    figures.idle_streams = len(streams)
    figures.idle_rss_growth_mb = round((tree_rss(pid) - before) / 2**20, 1)
    figures.ingest_with_streams_per_second = round(await _ingest(base, seconds, 3))
    for writer in streams:
        writer.close()


def as_json(figures: FeedFigures) -> dict[str, Any]:
    found: dict[str, Any] = msgspec.to_builtins(figures)
    return found

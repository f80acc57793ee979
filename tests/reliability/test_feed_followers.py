"""The change feed under concurrent writers: 4 `invtrack serve` processes on
one PostgreSQL database (2 on one SQLite file) take interleaved deliveries
while a consumer follows `GET /feed` with small pages, another follows
`GET /feed/stream` and reconnects at random with `Last-Event-ID`, and a push
subscriber is killed and started again at random. Each sees every entry
exactly once per position, in position order (the push subscriber's repeats
carry the `webhook-id` they had); the entries folded equal what
`GET /inventories/{key}` answers for every key; and a snapshot taken midway,
followed by the feed, equals the feed from the start. Hypothesis picks the
write mixes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.harness.deliveries import path_of, post_json
from tests.harness.feed import assert_in_order_once, fold_entries
from tests.harness.server import Server, free_port
from tests.harness.tokens import admin, reader
from tests.reliability.test_many_processes import deliveries

DEADLINE = 180.0
"""Seconds the followers may take to reach the head once the writes are done."""


class Receiver:
    """The push subscriber as a process that can be killed and started again."""

    def __init__(self, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.out = workdir / "received.jsonl"
        self.out.touch()
        self.secret = ""
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.fakes.webhook_receiver",
                str(self.port),
                self.secret,
                str(self.out),
            ]
        )

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def received(self) -> list[dict[str, Any]]:
        lines = self.out.read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]


async def write(urls: list[str], batch: list[Any], rng: random.Random) -> None:
    clients = [httpx.AsyncClient(base_url=url, timeout=60) for url in urls]
    gate = asyncio.Semaphore(8)

    async def send(delivery: Any) -> None:
        async with gate:
            response = await post_json(rng.choice(clients), path_of(delivery), delivery)
            assert response.status_code == 200, response.text

    try:
        await asyncio.gather(*(send(delivery) for delivery in batch))
    finally:
        for client in clients:
            await client.aclose()


async def poll_follower(url: str, done: Callable[[int], bool]) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    after = 0
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        while not done(after):
            response = await client.get(
                "/feed", params={"after": after, "limit": 3, "timeout": 1}, headers=reader()
            )
            assert response.status_code == 200, response.text
            seen += response.json()
            after = int(response.headers["feed-position"])
    return seen


async def stream_follower(
    url: str, done: Callable[[int], bool], rng: random.Random
) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    last: int | None = None
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        while not done(last or 0):
            headers = reader() if last is None else {**reader(), "Last-Event-ID": str(last)}
            quota = rng.randint(1, 25)
            async with client.stream("GET", "/feed/stream", headers=headers) as response:
                assert response.status_code == 200
                pending = last
                async for line in response.aiter_lines():
                    # An event's id comes before its data: it counts as seen
                    # (and is sent back as Last-Event-ID) once its data came.
                    if line.startswith("id: "):
                        pending = int(line[4:])
                    elif line.startswith("data: "):
                        seen.append(json.loads(line[6:]))
                        last = pending
                        quota -= 1
                    if quota <= 0 or done(last or 0):
                        break
    return seen


async def head_of(url: str) -> int:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        response = await client.get("/feed/snapshot", params={"limit": 1}, headers=reader())
        return int(response.json()["position"])


async def snapshot(url: str) -> tuple[int, dict[str, Any]]:
    items: dict[str, Any] = {}
    cursor: str | None = None
    position = None
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        while True:
            params: dict[str, Any] = {"limit": 7, **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/feed/snapshot", params=params, headers=reader())).json()
            assert position in (None, page["position"])
            position = page["position"]
            items.update((item["key"], item) for item in page["items"])
            cursor = page["nextCursor"]
            if cursor is None:
                return position, items


async def subscribe(url: str, receiver: Receiver) -> str:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        response = await client.post(
            "/subscriptions",
            json={"url": f"http://127.0.0.1:{receiver.port}/hook", "from": "start", "batchSize": 5},
            headers=admin(),
        )
        assert response.status_code == 201, response.text
        answer = response.json()
        receiver.secret = answer["secret"]
        return str(answer["id"])


async def acknowledged(url: str, subscription: str) -> int:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        response = await client.get(f"/subscriptions/{subscription}", headers=admin())
        return int(response.json()["position"])


async def chaos(receiver: Receiver, stop: asyncio.Event, rng: random.Random) -> None:
    """Kill the subscriber and start it again at random moments."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), rng.uniform(0.2, 1.5))
        receiver.kill()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), rng.uniform(0.1, 0.8))
        receiver.start()


def pushed_entries(receiver: Receiver) -> list[dict[str, Any]]:
    """What the subscriber received, each batch once (a repeat has the id and
    the entries it had)."""
    batches: dict[str, list[dict[str, Any]]] = {}
    for line in receiver.received():
        known = batches.setdefault(line["id"], line["entries"])
        assert known == line["entries"], "a webhook-id came again with other entries"
    return [entry for entries in batches.values() for entry in entries]


async def follow(urls: list[str], workdir: Path, seed: int, count: int) -> None:
    rng = random.Random(seed)
    receiver = Receiver(workdir)
    subscription = await subscribe(urls[0], receiver)
    receiver.start()
    final: list[int] = []

    def done(position: int) -> bool:
        return bool(final) and position >= final[0]

    followers = asyncio.gather(
        poll_follower(urls[1 % len(urls)], done),
        stream_follower(urls[-1], done, random.Random(seed + 1)),
    )
    stop = asyncio.Event()
    chaotic = asyncio.create_task(chaos(receiver, stop, random.Random(seed + 2)))
    made = deliveries(count, seed)
    await write(urls, made[: count // 2], rng)
    middle, taken = await snapshot(urls[0])
    await write(urls, made[count // 2 :], rng)
    final.append(await head_of(urls[0]))
    polled, streamed = await asyncio.wait_for(followers, DEADLINE)
    stop.set()
    await chaotic
    if receiver.process is None:
        receiver.start()
    deadline = asyncio.get_running_loop().time() + DEADLINE
    while await acknowledged(urls[0], subscription) < final[0]:
        assert asyncio.get_running_loop().time() < deadline, "the subscriber was not caught up"
        await asyncio.sleep(0.2)
    receiver.kill()

    everything = list(range(1, final[0] + 1))
    for name, seen in (("poll", polled), ("stream", streamed), ("push", pushed_entries(receiver))):
        positions = [entry["position"] for entry in seen]
        assert positions == everything, (
            name,
            [p for p in positions if p not in everything][:5],
            sorted(set(everything) - set(positions))[:5],
            len(positions),
        )
        assert_in_order_once(seen)
    items = fold_entries(polled)
    async with httpx.AsyncClient(base_url=urls[0], timeout=30) as client:
        for key, item in items.items():
            answer = (await client.get(f"/inventories/{key}", headers=reader())).json()
            assert answer == item, key
    after = [entry for entry in polled if entry["position"] > middle]
    assert fold_entries(after, taken) == items


@settings(max_examples=2, deadline=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 2**16), count=st.integers(40, 100))
def run_on(servers: list[Server], workdir: Path, seed: int, count: int) -> None:
    runs = len(list(workdir.iterdir()))
    asyncio.run(follow([server.url for server in servers], workdir / f"r{runs}", seed, count))


ENV = {"INVTRACK_SUBSCRIPTION_ALLOW_PRIVATE": "1", "INVTRACK_SUBSCRIPTION_ALLOW_HTTP": "1"}


def test_four_writers_on_postgresql_and_three_followers(
    servers: Callable[..., Server], pg_databases: Callable[[], str], tmp_path: Path
) -> None:
    database_url = pg_databases()
    started = [servers(database_url, f"w{n}", **ENV) for n in range(4)]
    (tmp_path / "runs").mkdir()
    run_on(started, tmp_path / "runs")


def test_two_writers_on_sqlite_and_three_followers(
    servers: Callable[..., Server], tmp_path: Path
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'invtrack.db'}"
    started = [servers(database_url, f"w{n}", **ENV) for n in range(2)]
    (tmp_path / "runs").mkdir()
    run_on(started, tmp_path / "runs")

"""The store under concurrent writers on PostgreSQL, each on its own connection.

On PostgreSQL positions come from a sequence, so without serialised appends a
reader of `position > checkpoint` could step over an event that commits after
a later one. These tests race real connections against each other and check
what tailing readers saw against what the writers were told.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import msgspec
import pytest

from adapters.store import (
    ConcurrencyConflict,
    Delivery,
    InboxEntry,
    NewEvent,
    Store,
    connect,
)
from domain.events import Fact, ResourceInventoryCreated
from projections.live import LiveProjector
from tests.harness.server import Proxy, pg_target, through

WRITERS = 8
READERS = 3
BATCHES_PER_WRITER = 25
STREAMS = 12
SHARED_KEYS = 40
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


class Seen(msgspec.Struct, frozen=True):
    """An event as a writer was told it was stored, or as a reader found it."""

    position: int
    stream_id: str
    version: int
    dedupe_key: str


class Batch(msgspec.Struct, frozen=True):
    """One append: what a writer asked to store and what it was told was stored."""

    submitted: tuple[str, ...]
    stored: tuple[Seen, ...]


def up_to(most: float, *, seed: int) -> Callable[[], float]:
    """Random delays of at most `most` seconds, the same ones for a seed."""
    rng = random.Random(seed)
    return lambda: rng.random() * most


@asynccontextmanager
async def stores_on(url: str, count: int, *, lingering: bool) -> AsyncIterator[list[Store]]:
    """Stores on separate connections, each already open. `lingering` ones
    reach PostgreSQL through a proxy that holds what they send up to 3 ms, as
    a slow network or a busy server would: a transaction stays open a while
    after its positions are taken, which is when unserialised commits reorder."""
    async with AsyncExitStack() as stack:
        stores: list[Store] = []
        for number in range(count):
            target = url
            if lingering:
                proxy = Proxy(*pg_target(url), delay=up_to(0.003, seed=number))
                await proxy.start()
                stack.push_async_callback(proxy.close)
                target = through(url, proxy.port)
            store = connect(target, pool_size=1, busy_seconds=60, projection=LiveProjector())
            stack.push_async_callback(store.close)
            stores.append(store)
        await asyncio.gather(*(store.head() for store in stores))
        yield stores


def shared_event(number: int) -> NewEvent:
    """The same fact, delivered by every writer that picks it."""
    return NewEvent(
        stream_id=f"stream-{number % STREAMS}",
        type="test.Shared",
        data={"number": number, "quantity": "1.50"},
        occurred_at=T0 + timedelta(seconds=number),
        dedupe_key=f"shared-{number}",
    )


def own_event(writer: int, batch: int, index: int, rng: random.Random) -> NewEvent:
    return NewEvent(
        stream_id=f"stream-{rng.randrange(STREAMS)}",
        type="test.Own",
        data={"writer": writer, "batch": batch, "index": index},
        occurred_at=T0,
        dedupe_key=f"w{writer}-b{batch}-e{index}",
    )


def plan(writer: int, rng: random.Random, shared_share: float) -> list[list[NewEvent]]:
    """Small batches of random size; some events are shared with other writers."""
    batches: list[list[NewEvent]] = []
    for batch in range(BATCHES_PER_WRITER):
        batches.append(
            [
                shared_event(rng.randrange(SHARED_KEYS))
                if rng.random() < shared_share
                else own_event(writer, batch, index, rng)
                for index in range(rng.randint(1, 6))
            ]
        )
    return batches


async def write(
    store: Store, batches: Sequence[Sequence[NewEvent]], start: asyncio.Event, seed: int
) -> list[Batch]:
    rng = random.Random(seed)
    done: list[Batch] = []
    await start.wait()
    for batch in batches:
        stored = await store.append(batch)
        await asyncio.sleep(rng.random() * 0.001)
        done.append(
            Batch(
                submitted=tuple(event.dedupe_key for event in batch),
                stored=tuple(
                    Seen(e.position, e.stream_id, e.version, e.dedupe_key) for e in stored
                ),
            )
        )
    return done


async def tail(
    reader: Store, start: asyncio.Event, writers_done: asyncio.Event, rng: random.Random
) -> list[Seen]:
    """Follow the store as a projection would, until the writers are done and
    nothing is left to read."""
    seen: list[Seen] = []
    checkpoint = 0
    await start.wait()
    while True:
        finished = writers_done.is_set()
        page = await reader.read_events(after=checkpoint, limit=rng.choice((1, 3, 7, 50)))
        seen.extend(Seen(e.position, e.stream_id, e.version, e.dedupe_key) for e in page)
        if page:
            checkpoint = page[-1].position
        elif finished:
            return seen


async def race(
    url: str, seed: int, *, shared_share: float
) -> tuple[list[list[Batch]], list[list[Seen]]]:
    """Writers on their own connections append while readers, each on its own
    connection too, tail the store. Returns what each writer was told and what
    each reader saw."""
    rng = random.Random(seed)
    plans = [plan(writer, rng, shared_share) for writer in range(WRITERS)]
    start, writers_done = asyncio.Event(), asyncio.Event()

    async def all_writers(stores: list[Store]) -> list[list[Batch]]:
        try:
            return list(
                await asyncio.gather(
                    *(
                        write(store, batches, start, rng.randrange(2**32))
                        for store, batches in zip(stores, plans, strict=True)
                    )
                )
            )
        finally:
            writers_done.set()

    async with (
        stores_on(url, WRITERS, lingering=True) as stores,
        stores_on(url, READERS, lingering=False) as readers,
        asyncio.TaskGroup() as group,
    ):
        writing = group.create_task(all_writers(stores))
        reading = [
            group.create_task(tail(reader, start, writers_done, random.Random(rng.random())))
            for reader in readers
        ]
        start.set()
    return writing.result(), [task.result() for task in reading]


@pytest.mark.parametrize("seed", range(6))
async def test_tailing_readers_see_every_committed_event_once_in_order(
    pg_store: Store, pg_url: str, seed: int
) -> None:
    writers, readings = await race(pg_url, seed, shared_share=0.3)

    batches = [batch for writer in writers for batch in writer]
    told = sorted(
        (event for batch in batches for event in batch.stored), key=lambda event: event.position
    )
    everything = await pg_store.read_events(limit=100_000)
    assert [Seen(e.position, e.stream_id, e.version, e.dedupe_key) for e in everything] == told
    for seen in readings:
        # Strictly increasing positions, so no repeats; nothing missing from
        # what the writers were told was stored, and nothing else.
        assert all(a.position < b.position for a, b in pairwise(seen))
        assert seen == told

    # Every key submitted is stored exactly once, by exactly one append; every
    # other append of it reported it as a duplicate by leaving it out.
    submitted = Counter(key for batch in batches for key in batch.submitted)
    stored_keys = Counter(event.dedupe_key for event in told)
    assert set(stored_keys) == set(submitted)
    assert all({e.dedupe_key for e in b.stored} <= set(b.submitted) for b in batches)
    assert max(stored_keys.values()) == 1
    duplicates_reported = sum(len(b.submitted) - len(b.stored) for b in batches)
    assert duplicates_reported == sum(submitted.values()) - len(submitted)
    racers = Counter(
        key
        for writer in writers
        for key in {key for batch in writer for key in batch.submitted}
        if key.startswith("shared-")
    )
    assert any(count > 1 for count in racers.values()), "no key was raced between writers"

    # Serialised appends number every stream 1..n in position order.
    versions: dict[str, list[int]] = defaultdict(list)
    for event in told:
        versions[event.stream_id].append(event.version)
    for stream_versions in versions.values():
        assert stream_versions == list(range(1, len(stream_versions) + 1))


async def test_writers_racing_on_one_message_id_keep_it_once(pg_store: Store, pg_url: str) -> None:
    messages = 10

    async def deliver(store: Store, message: int, barrier: asyncio.Barrier) -> int | None:
        entry = InboxEntry(
            source="servicemobility",
            kind="InventoryUsage",
            body=f'{{"message": {message}}}'.encode(),
            received_at=T0,
            message_id=f"msg-{message}",
        )
        await barrier.wait()
        fact = Fact(
            event=ResourceInventoryCreated(occurred_at=T0, inventory_id=message),
            dedupe_key=f"shared-{message}",
        )
        (receipt,) = await store.commit([Delivery(inbox=entry, facts=(fact,))])
        return receipt.inbox_id

    async with stores_on(pg_url, WRITERS, lingering=True) as stores:
        for message in range(messages):
            barrier = asyncio.Barrier(len(stores))
            results = await asyncio.gather(*(deliver(store, message, barrier) for store in stores))
            kept = [inbox_id for inbox_id in results if inbox_id is not None]
            assert len(kept) == 1, results

    accepted = await pg_store.inbox_entries("accepted", limit=1000)
    assert sorted(entry.message_id or "" for entry in accepted) == sorted(
        f"msg-{message}" for message in range(messages)
    )
    assert await pg_store.count() == messages
    assert {e.inbox_id for e in await pg_store.read_events()} == {e.id for e in accepted}


async def test_two_writers_racing_at_one_receive_one_inbox_id(pg_store: Store, pg_url: str) -> None:
    entry = InboxEntry(
        source="ofs", kind="page", body=b"\x00raw\xff", received_at=T0, message_id="page-1"
    )
    barrier = asyncio.Barrier(2)

    async def receive(store: Store) -> int | None:
        await barrier.wait()
        (receipt,) = await store.commit([Delivery(inbox=entry)])
        return receipt.inbox_id

    async with stores_on(pg_url, 2, lingering=True) as stores:
        results = await asyncio.gather(*(receive(store) for store in stores))

    assert len([inbox_id for inbox_id in results if inbox_id is not None]) == 1
    assert None in results
    assert await pg_store.inbox_counts() == {"accepted": 1}


@pytest.mark.parametrize("writers", [2, WRITERS])
async def test_writers_with_the_same_expected_version_one_wins(
    pg_store: Store, pg_url: str, writers: int
) -> None:
    rounds = 8

    async def attempt(store: Store, writer: int, round_: int, barrier: asyncio.Barrier) -> int:
        current = len(await store.read_stream("order-1"))
        await barrier.wait()
        stored = await store.append(
            [
                NewEvent(
                    stream_id="order-1",
                    type="test.Decided",
                    data={"writer": writer},
                    occurred_at=T0,
                    dedupe_key=f"r{round_}-w{writer}-{n}",
                    expected_version=current + n,
                )
                for n in range(2)
            ]
        )
        return len(stored)

    async with stores_on(pg_url, writers, lingering=True) as stores:
        for round_ in range(rounds):
            barrier = asyncio.Barrier(writers)
            results = await asyncio.gather(
                *(attempt(store, w, round_, barrier) for w, store in enumerate(stores)),
                return_exceptions=True,
            )
            wins = [result for result in results if isinstance(result, int)]
            conflicts = [r for r in results if isinstance(r, ConcurrencyConflict)]
            assert wins == [2], results
            assert len(conflicts) == writers - 1, results

    stream = await pg_store.read_stream("order-1")
    assert [event.version for event in stream] == list(range(1, 2 * rounds + 1))
    # Each round's two events come from the one writer that won it.
    for n in range(0, len(stream), 2):
        assert stream[n].data == stream[n + 1].data

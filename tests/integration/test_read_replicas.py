"""Reading from a streaming replica (INVTRACK_READ_DATABASE_URL), on a real
PostgreSQL primary and hot standby (tests/harness/replicas.py).

The standby answers what the primary answers once it has caught up; the feed
read on the standby while writers append has no gap; a client that asks for
its write's position reads it, however the replica lags; a standby stopped
under load loses no answer (the primary answers) and is read again once it is
back; a promoted standby is left alone; a rebuild's switch never shows a
half-built table to readers on the standby.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.store import Reader, Store, connect_reads, reading_after
from adapters.store.feed import FeedFilter, FeedQuery
from adapters.store.queries import ItemFilter, ItemsQuery, OwnersQuery, Query
from adapters.store.replica import ReplicaReader
from api.services.feed import Feed
from projections.rebuild import rebuild
from tests.harness.histories import BATCH, LOCATIONS, deliveries
from tests.harness.profiles import examples
from tests.harness.replicas import Replicated, caught_up
from tests.harness.standby import Replication

QUERIES: list[Query[Any]] = [
    *(
        ItemsQuery(where=ItemFilter(owner_kind="resource", owner=where), limit=500)
        for where in LOCATIONS
    ),
    OwnersQuery(kind="resource"),
]


async def answers(reader: Reader) -> list[Any]:
    return [await reader.fetch(query) for query in QUERIES]


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "the condition was not met in time"
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def replay_paused(standby_admin: str) -> AsyncIterator[asyncpg.Connection]:
    """The standby stops applying what it receives until the block ends."""
    conn = await asyncpg.connect(standby_admin)
    try:
        await conn.execute("SELECT pg_wal_replay_pause()")
        yield conn
    finally:
        await conn.execute("SELECT pg_wal_replay_resume()")
        await conn.close()


async def test_queries_and_the_feed_from_the_standby_equal_the_primarys(
    replicated: Replicated,
) -> None:
    primary, reads = replicated.primary, replicated.reads
    await primary.commit(deliveries(1, 0, 80))
    await replicated.caught_up()

    assert await reads.head() == await primary.head() > 0
    assert await answers(reads) == await answers(primary)
    assert any(await answers(reads))
    every = FeedQuery(after=0, limit=10_000)
    from_standby = await reads.read_feed(every)
    assert from_standby == await primary.read_feed(every)
    assert from_standby.entries
    assert await reads.registered() == await primary.registered()
    status = await reads.replica_status()
    assert (status.state, status.fallbacks) == ("following", {})


async def test_the_feed_read_on_the_standby_under_writers_has_no_gap(
    replicated: Replicated,
) -> None:
    """Three writers append while a follower pages through the standby's
    feed alone: what it reads, in order, is the primary's whole feed."""
    primary, standby = replicated.primary, replicated.reads.replica
    writing = True

    async def write(seed: int) -> None:
        for n in range(25):
            await primary.commit(deliveries(seed, seed * 1000 + n * 2, 2))

    async def follow() -> list[int]:
        seen: list[int] = []
        after = 0
        while True:
            page = await standby.read_feed(FeedQuery(after=after, limit=7))
            seen += [entry.position for entry in page.entries]
            assert page.through >= after
            after = page.through
            if not writing and not page.entries and after >= final:
                return seen
            await asyncio.sleep(0.002)

    final = 1 << 62
    follower = asyncio.create_task(follow())
    await asyncio.gather(*(write(seed) for seed in (1, 2, 3)))
    final = await primary.feed_head()
    writing = False
    seen = await asyncio.wait_for(follower, 60)

    everything = await primary.read_feed(FeedQuery(after=0, limit=100_000))
    assert seen == [entry.position for entry in everything.entries]
    assert len(seen) >= 150


READ_YOUR_WRITES = settings(
    max_examples=examples(8),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@READ_YOUR_WRITES
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from([0.0, 0.002, 0.02, 0.2]),  # before the write
            st.sampled_from([0.0, 0.005, 0.05, 0.4]),  # until the replay resumes
            st.booleans(),  # the replay is paused over the write
        ),
        min_size=1,
        max_size=4,
    ),
    seed=st.integers(0, 10_000),
)
async def test_a_client_reading_while_it_writes_reads_its_own_writes(
    replicated: Replicated, steps: list[tuple[float, float, bool]], seed: int
) -> None:
    """A client writes, and reads at the same time with the last position it
    was answered: every read sees it, whether the standby applies at once,
    is held past the write and let go while the read waits, or longer than
    the wait (a quarter of a second here); with another client writing
    meanwhile."""
    primary = replicated.primary
    database = replicated.standby_admin.rsplit("/", 1)[1]
    reads = connect_reads(primary, replicated.standby.url(database), max_lag=0.5, wait=0.25)
    assert isinstance(reads, ReplicaReader)
    known = 0
    writing = True

    async def read_own_writes() -> int:
        done = 0
        while writing:
            position = known
            with reading_after(position):
                assert await reads.head() >= position
                assert await reads.count() >= position
            done += 1
            await asyncio.sleep(0.001)
        return done

    other = asyncio.create_task(_keep_writing(primary, seed + 1))
    reader = asyncio.create_task(read_own_writes())
    try:
        for n, (before, held, paused) in enumerate(steps):
            await asyncio.sleep(before)
            pause = replay_paused(replicated.standby_admin) if paused else _not_paused()
            async with pause as standby:
                (receipt,) = await primary.commit(deliveries(seed, 100_000 + n, 1))
                known = receipt.position
                resumed = asyncio.create_task(_resume_after(standby, held))
                with reading_after(receipt.position):
                    assert await reads.read_positions([receipt.position])
                await resumed
        writing = False
        assert await reader > 0
    finally:
        writing = False
        other.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await other
        with contextlib.suppress(AssertionError):
            await reader
        await reads.close()


@contextlib.asynccontextmanager
async def _not_paused() -> AsyncIterator[None]:
    yield None


async def _resume_after(standby: asyncpg.Connection | None, seconds: float) -> None:
    await asyncio.sleep(seconds)
    if standby is not None:
        await standby.execute("SELECT pg_wal_replay_resume()")


async def _keep_writing(primary: Store, seed: int) -> None:
    n = 0
    while True:
        await primary.commit(deliveries(seed, 500_000 + n, 1))
        n += 1
        await asyncio.sleep(0.01)


async def test_a_lagging_standby_is_read_no_more_until_it_catches_up(
    replicated: Replicated,
) -> None:
    primary, reads = replicated.primary, replicated.reads
    await primary.commit(deliveries(1, 0, 20))
    await replicated.caught_up()
    async with replay_paused(replicated.standby_admin):
        await primary.commit(deliveries(2, 1000, 20))
        await asyncio.sleep(1.2)  # past the 0.5 s allowed, and the next check

        async def lagging() -> bool:
            return (await reads.replica_status()).state == "lagging"

        await until(lagging)
        assert await answers(reads) == await answers(primary)
        status = await reads.replica_status()
        assert status.lag_seconds is not None
        assert status.lag_seconds > 0.5
        assert status.fallbacks.get("lagging", 0) >= len(QUERIES)

    async def following() -> bool:
        return (await reads.replica_status()).state == "following"

    await until(following)
    before = (await reads.replica_status()).fallbacks
    assert await answers(reads) == await answers(primary)
    assert (await reads.replica_status()).fallbacks == before


async def test_stopping_the_standby_mid_load_loses_no_answer_and_restarting_resumes(
    replicated: Replicated,
) -> None:
    primary, reads, standby = replicated.primary, replicated.reads, replicated.standby
    await primary.commit(deliveries(1, 0, 40))
    await replicated.caught_up()
    expected = await answers(primary)
    answered: list[list[object]] = []
    stop = asyncio.Event()

    async def keep_reading() -> None:
        while not stop.is_set():
            answered.append(await answers(reads))

    readers = [asyncio.create_task(keep_reading()) for _ in range(4)]
    try:
        await asyncio.sleep(0.3)
        await asyncio.to_thread(standby.stop)
        stopped_at = len(answered)

        async def down() -> bool:
            return (await reads.replica_status()).state == "down"

        await until(down)
        await asyncio.sleep(0.3)
        assert len(answered) > stopped_at  # answered meanwhile, by the primary
        await asyncio.to_thread(standby.start)

        async def following() -> bool:
            return (await reads.replica_status()).state == "following"

        await until(following)
        await asyncio.sleep(1.0)  # connections the stop broke are found and replaced
    finally:
        stop.set()
        await asyncio.gather(*readers)
    assert answered
    assert all(answer == expected for answer in answered)
    settled = (await reads.replica_status()).fallbacks
    assert settled.get("down", 0) > 0
    for _ in range(20):
        assert await answers(reads) == expected
    assert (await reads.replica_status()).fallbacks == settled  # the standby answers again


async def test_a_promoted_standby_is_read_no_more(
    replicated: Replicated, replication: Replication
) -> None:
    primary = replicated.primary
    await primary.commit(deliveries(1, 0, 20))
    extra = replication.standby()
    name = replicated.primary_admin.rsplit("/", 1)[1]
    reads = connect_reads(primary, extra.url(name), max_lag=0.5)
    assert isinstance(reads, ReplicaReader)
    try:
        await caught_up(replicated.primary_admin, extra.admin(name))
        assert (await reads.replica_status()).state == "following"
        await asyncio.to_thread(extra.promote)

        async def promoted() -> bool:
            return (await reads.replica_status()).state == "promoted"

        await until(promoted)
        await primary.commit(deliveries(2, 1000, 20))  # the promoted copy never sees these
        assert await answers(reads) == await answers(primary)
        assert await reads.head() == await primary.head()
        assert (await reads.replica_status()).fallbacks.get("promoted", 0) > 0
    finally:
        await reads.close()
        await asyncio.to_thread(extra.stop, "immediate")


async def test_a_rebuild_switch_under_readers_on_the_standby_never_serves_a_half_built_table(
    replicated: Replicated,
) -> None:
    """Readers kept on the standby however far it lags while the rebuild's
    fill streams to it: every answer is the one before the rebuild."""
    primary = replicated.primary
    await primary.commit(deliveries(1, 0, 150))
    await replicated.caught_up()
    expected = await answers(primary)
    database = replicated.standby_admin.rsplit("/", 1)[1]
    reads = connect_reads(primary, replicated.standby.url(database), max_lag=3600)
    assert isinstance(reads, ReplicaReader)
    before = await reads.replica.active_slots()
    answered: list[list[object]] = []
    stop = asyncio.Event()

    async def keep_reading() -> None:
        while not stop.is_set():
            answered.append(await answers(reads))

    readers = [asyncio.create_task(keep_reading()) for _ in range(3)]
    try:
        await rebuild(primary, None, batch_size=BATCH)
        await replicated.caught_up()
        await asyncio.sleep(0.2)
    finally:
        stop.set()
        await asyncio.gather(*readers)
        status = await reads.replica_status()
        after = await reads.replica.active_slots()
        await reads.close()

    assert all(after[name].generation == before[name].generation + 1 for name in before)
    assert len(answered) > 3
    assert all(answer == expected for answer in answered)
    assert status.state == "following"
    # Only a read the replay cancelled (its old tables dropped) went elsewhere.
    assert set(status.fallbacks) <= {"error"}
    assert sum(status.fallbacks.values()) < len(answered) * len(QUERIES) / 2


async def test_a_long_poll_on_the_standby_wakes_for_a_commit_and_reads_it_there(
    replicated: Replicated,
) -> None:
    """The primary hears the commit (a standby cannot listen); the poll then
    reads the entries on the standby once it shows them."""
    primary, reads = replicated.primary, replicated.reads
    await primary.commit(deliveries(1, 0, 2))
    await replicated.caught_up()
    head = await primary.feed_head()
    polling = asyncio.create_task(Feed(reads).poll(FeedQuery(after=head, limit=100), 30.0))
    await asyncio.sleep(0.3)
    assert not polling.done()
    await primary.commit(deliveries(2, 1000, 2))
    page = await asyncio.wait_for(polling, 30)
    assert page.entries
    assert page.entries == (await primary.read_feed(FeedQuery(after=head, limit=100))).entries
    assert (await reads.replica_status()).fallbacks == {}


async def test_reads_go_on_from_the_standby_while_the_primary_is_down(
    replicated: Replicated, replication: Replication
) -> None:
    primary, reads = replicated.primary, replicated.reads
    await primary.commit(deliveries(1, 0, 30))
    await replicated.caught_up()
    expected = await answers(primary)
    await asyncio.sleep(1.1)  # the next read checks the replica again
    await asyncio.to_thread(replication.primary.stop)
    try:
        assert await answers(reads) == expected
        status = await reads.replica_status()
        assert status.state == "following"
        assert status.lag_seconds is None
        assert status.fallbacks == {}
    finally:
        await asyncio.to_thread(replication.primary.start)


async def test_connections_the_standby_ends_are_replaced_without_losing_an_answer(
    replicated: Replicated,
) -> None:
    """The standby ends invtrack's connections (as a recovery conflict or an
    administrator does) while readers keep asking: every answer is right,
    and the standby goes on answering."""
    primary, reads = replicated.primary, replicated.reads
    await primary.commit(deliveries(1, 0, 30))
    await replicated.caught_up()
    expected = await answers(primary)
    answered: list[list[object]] = []
    stop = asyncio.Event()

    async def keep_reading() -> None:
        while not stop.is_set():
            answered.append(await answers(reads))

    readers = [asyncio.create_task(keep_reading()) for _ in range(3)]
    ended = 0
    try:
        standby = await asyncpg.connect(replicated.standby_admin)
        try:
            for _ in range(10):
                await asyncio.sleep(0.05)
                ended += await standby.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = 'invtrack' AND pid <> pg_backend_pid()"
                )
        finally:
            await standby.close()
    finally:
        stop.set()
        await asyncio.gather(*readers)
    assert ended > 0
    assert answered
    assert all(answer == expected for answer in answered)

    async def following() -> bool:
        return (await reads.replica_status()).state == "following"

    await until(following)
    settled = (await reads.replica_status()).fallbacks
    assert await answers(reads) == expected
    assert (await reads.replica_status()).fallbacks == settled


async def test_a_snapshot_page_at_a_position_the_standby_lacks_is_read_from_the_primary(
    replicated: Replicated,
) -> None:
    """The next page of a snapshot names its feed position: read where that
    position is shown, never from an older copy."""
    primary = replicated.primary
    database = replicated.standby_admin.rsplit("/", 1)[1]
    reads = connect_reads(primary, replicated.standby.url(database), max_lag=60, wait=0.25)
    assert isinstance(reads, ReplicaReader)
    try:
        await primary.commit(deliveries(1, 0, 20))
        await replicated.caught_up()
        async with replay_paused(replicated.standby_admin):
            await primary.commit(deliveries(2, 1000, 20))
            position = await primary.feed_head()
            wanted = await Feed(primary).snapshot(FeedFilter(), 1000, position, None)
            assert await reads.replica.feed_head() < position
            assert await Feed(reads).snapshot(FeedFilter(), 1000, position, None) == wanted
            assert (await reads.replica_status()).fallbacks == {"behind": 1}
        await replicated.caught_up()
        assert await Feed(reads).snapshot(FeedFilter(), 1000, position, None) == wanted
        assert (await reads.replica_status()).fallbacks == {"behind": 1}
    finally:
        await reads.close()

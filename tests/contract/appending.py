"""The contract of appending events and reading them back: order, positions
and stream versions, dedupe keys, expected versions, one transaction."""

from __future__ import annotations

import itertools
from datetime import timedelta, timezone
from typing import Any

import pytest

from adapters.store import ConcurrencyConflict, Cursor, Delivery, Store, StoredEvent
from projections.live import LiveProjector
from tests.contract.support import (
    T0,
    Boom,
    append,
    created,
    inbox_entry,
    keys_of,
    new_event,
    opened,
    positions_of,
)


class Exploding(LiveProjector):
    """Live projections that fail after folding, as a bug or a full disk would."""

    def fold(self, *args: Any) -> Any:
        super().fold(*args)
        raise Boom


class AppendingContract:
    async def test_append_returns_positions_in_order_and_stream_versions_from_one(
        self,
        store: Store,
    ) -> None:
        first = await append(
            store,
            [
                new_event("a1", "a"),
                new_event("b1", "b"),
                new_event("a2", "a"),
                new_event("a3", "a"),
            ],
        )
        second = await append(store, [new_event("b2", "b"), new_event("a4", "a")])

        stored = first + second
        positions = positions_of(stored)
        assert positions == sorted(positions)
        assert len(set(positions)) == len(positions)
        assert [e.version for e in stored if e.stream_id == "a"] == [1, 2, 3, 4]
        assert [e.version for e in stored if e.stream_id == "b"] == [1, 2]
        assert await store.read_events() == stored
        assert await store.head() == positions[-1]
        assert await store.count() == 6

    async def test_an_empty_store_has_head_zero_and_reads_nothing(self, store: Store) -> None:
        assert await store.head() == 0
        assert await store.count() == 0
        assert await store.read_events() == []
        assert await store.read_stream("nowhere") == []
        assert await store.append([]) == []
        assert await store.commit([]) == []

    async def test_read_stream_returns_only_that_stream_in_order(self, store: Store) -> None:
        await append(
            store,
            [
                new_event("a1", "a"),
                new_event("b1", "b"),
                new_event("a2", "a"),
                new_event("c1", "c"),
            ],
        )
        await append(store, [new_event("a3", "a")])

        stream = await store.read_stream("a")

        assert keys_of(stream) == ["a1", "a2", "a3"]
        assert [e.version for e in stream] == [1, 2, 3]
        assert positions_of(stream) == sorted(positions_of(stream))

    async def test_read_stream_up_to_a_position_includes_that_position(self, store: Store) -> None:
        stored = await append(store, [new_event(f"a{n}", "a") for n in range(1, 6)])

        up_to_third = await store.read_stream("a", to_position=stored[2].position)

        assert keys_of(up_to_third) == ["a1", "a2", "a3"]
        assert await store.read_stream("a", to_position=stored[0].position - 1) == []

    async def test_read_stream_up_to_an_event_time(self, store: Store) -> None:
        times = [T0 + timedelta(hours=n) for n in range(4)]
        await append(
            store, [new_event(f"a{n}", "a", occurred_at=t) for n, t in enumerate(times, start=1)]
        )
        paris = timezone(timedelta(hours=1))

        assert keys_of(await store.read_stream("a", to_time=times[1])) == ["a1", "a2"]
        # The same instant written in another offset selects the same events.
        assert keys_of(await store.read_stream("a", to_time=times[2].astimezone(paris))) == [
            "a1",
            "a2",
            "a3",
        ]
        assert await store.read_stream("a", to_time=T0 - timedelta(microseconds=1)) == []

    async def test_read_stream_by_position_and_time_together(self, store: Store) -> None:
        stored = await append(
            store,
            [new_event(f"a{n}", "a", occurred_at=T0 + timedelta(days=n)) for n in range(1, 5)],
        )

        events = await store.read_stream(
            "a", to_position=stored[2].position, to_time=T0 + timedelta(days=2)
        )

        assert keys_of(events) == ["a1", "a2"]

    async def test_read_events_after_a_position_in_order(self, store: Store) -> None:
        stored = await append(store, [new_event(f"k{n}", f"s{n % 3}") for n in range(8)])

        after_third = await store.read_events(after=stored[2].position)

        assert after_third == stored[3:]
        assert await store.read_events(after=stored[-1].position) == []

    async def test_read_events_pages_without_gaps_or_repeats(self, store: Store) -> None:
        names = (f"k{n:03d}" for n in itertools.count())
        for size in (1, 4, 2, 7, 1, 3, 5):
            await append(store, [new_event(next(names), f"s{size % 3}") for _ in range(size)])
            # A failed batch in between: on PostgreSQL it uses up positions, which
            # leaves holes that a pager must step over.
            with pytest.raises(ConcurrencyConflict):
                await append(store, [new_event(next(names), "s0", expected_version=999)])
        everything = await store.read_events(limit=10_000)

        for limit in (1, 2, 3, 5, 100):
            pages: list[list[StoredEvent]] = []
            checkpoint = 0
            while page := await store.read_events(after=checkpoint, limit=limit):
                assert len(page) <= limit
                pages.append(page)
                checkpoint = page[-1].position
            assert [event for page in pages for event in page] == everything
        assert len(everything) == 23

    async def test_read_positions_returns_those_events_in_order(self, store: Store) -> None:
        stored = await append(store, [new_event(f"k{n}") for n in range(6)])
        wanted = [stored[4].position, stored[1].position, stored[2].position]

        assert await store.read_positions(wanted) == [stored[1], stored[2], stored[4]]
        assert await store.read_positions([]) == []

    async def test_what_append_returns_is_what_is_read_back(self, store: Store) -> None:
        stored = await append(
            store,
            [
                new_event("k1", "a", metadata={"request": "r-1"}),
                new_event("k2", "b", data={"nested": {"list": [1, 2.5, None, True, "x"]}}),
            ],
        )

        assert await store.read_events() == stored
        assert await store.read_stream("b") == stored[1:]

    async def test_appending_a_stored_dedupe_key_is_a_no_op(self, store: Store) -> None:
        original = await append(store, [new_event("k1", data={"version": "first"})])

        again = await append(store, [new_event("k1", data={"version": "second"})])

        assert again == []
        assert await store.read_events() == original
        assert (await store.read_events())[0].data == {"version": "first"}

    async def test_append_returns_only_the_events_it_stored(self, store: Store) -> None:
        await append(store, [new_event("old-1", "a"), new_event("old-2", "b")])

        stored = await append(
            store,
            [new_event("new-1", "a"), new_event("old-1", "a"), new_event("new-2", "b")],
        )

        assert keys_of(stored) == ["new-1", "new-2"]
        assert [(e.stream_id, e.version) for e in stored] == [("a", 2), ("b", 2)]
        assert await store.count() == 4

    async def test_stored_dedupe_keys_are_known_and_skipped(self, store: Store) -> None:
        await append(store, [new_event("k1"), new_event("k2")])

        stored = await append(
            store, [new_event("k1"), new_event("k3"), new_event("k2"), new_event("k1")]
        )

        assert keys_of(stored) == ["k3"]
        # What one batch appended counts for the events after it in that batch.
        more = await append(store, [new_event("k3"), new_event("k4"), new_event("k4")])
        assert keys_of(more) == ["k4"]

    async def test_known_handles_more_keys_than_one_query_takes(self, store: Store) -> None:
        stored_keys = [f"k{n:04d}" for n in range(0, 1200, 2)]
        await append(store, [new_event(key, f"s{n % 7}") for n, key in enumerate(stored_keys)])

        stored = await append(store, [new_event(f"k{n:04d}", "t") for n in range(1200)])

        assert keys_of(stored) == [f"k{n:04d}" for n in range(1, 1200, 2)]

    async def test_a_key_repeated_inside_one_batch_is_stored_once(self, store: Store) -> None:
        stored = await append(
            store,
            [
                new_event("k1", data={"copy": 1}),
                new_event("k2"),
                new_event("k1", data={"copy": 2}),
            ],
        )

        assert keys_of(stored) == ["k1", "k2"]
        assert [e.version for e in stored] == [1, 2]
        assert [e.data for e in await store.read_events()] == [{"copy": 1}, {"key": "k2"}]

    async def test_expected_versions_that_match_are_appended(self, store: Store) -> None:
        stored = await append(
            store,
            [
                new_event("a1", "a", expected_version=0),
                new_event("a2", "a", expected_version=1),
                new_event("b1", "b", expected_version=0),
            ],
        )
        more = await append(store, [new_event("a3", "a", expected_version=2)])

        assert [(e.stream_id, e.version) for e in stored + more] == [
            ("a", 1),
            ("a", 2),
            ("b", 1),
            ("a", 3),
        ]

    async def test_a_stale_expected_version_raises_and_appends_nothing(self, store: Store) -> None:
        await append(store, [new_event("a1", "a"), new_event("a2", "a")])
        before = await store.read_events()

        with pytest.raises(ConcurrencyConflict) as conflict:
            await append(
                store,
                [
                    new_event("b1", "b", expected_version=0),
                    new_event("a3", "a", expected_version=1),
                    new_event("c1", "c"),
                ],
            )

        assert (conflict.value.stream_id, conflict.value.expected, conflict.value.actual) == (
            "a",
            1,
            2,
        )
        assert await store.read_events() == before

    async def test_a_conflicting_batch_appends_nothing_and_the_next_one_goes_in(
        self,
        store: Store,
    ) -> None:
        await append(store, [new_event("a1", "a")])

        with pytest.raises(ConcurrencyConflict):
            await append(store, [new_event("b1", "b"), new_event("a2", "a", expected_version=0)])
        later = await append(store, [new_event("c1", "c")])

        assert keys_of(await store.read_events()) == ["a1", "c1"]
        assert keys_of(later) == ["c1"]

    async def test_an_expected_version_ahead_of_the_stream_conflicts(self, store: Store) -> None:
        with pytest.raises(ConcurrencyConflict):
            await append(store, [new_event("a1", "a", expected_version=1)])
        assert await store.count() == 0

    async def test_a_duplicate_is_skipped_before_its_expected_version_is_checked(
        self,
        store: Store,
    ) -> None:
        await append(store, [new_event("a1", "a", expected_version=0)])

        # Redelivering the same batch is a no-op, not a conflict.
        assert await append(store, [new_event("a1", "a", expected_version=0)]) == []

    async def test_a_failed_transaction_leaves_nothing(
        self, store: Store, database_url: str
    ) -> None:
        async with opened(database_url, projection=Exploding()) as exploding:
            with pytest.raises(Boom):
                await exploding.commit(
                    [
                        Delivery(
                            inbox=inbox_entry("msg-1"),
                            facts=(created(1, "k1"), created(2, "k2")),
                            cursor=Cursor(name="ofs", state={"next_page": "7"}),
                        )
                    ]
                )

        assert await store.count() == 0
        assert await store.head() == 0
        assert await store.inbox_counts() == {}
        assert await store.inbox_entries("accepted") == []
        assert await store.cursor("ofs") is None
        # Nothing half-kept blocks the redelivery either.
        (receipt,) = await store.commit(
            [Delivery(inbox=inbox_entry("msg-1"), facts=(created(1, "k1"),))]
        )
        assert receipt.inbox_id is not None
        assert receipt.appended == 1

    async def test_events_carry_the_inbox_id_of_their_payload(self, store: Store) -> None:
        (receipt,) = await store.commit(
            [Delivery(inbox=inbox_entry("msg-1"), facts=(created(1, "k1"),))]
        )
        plain = await append(store, [new_event("k2")])

        assert receipt.inbox_id is not None
        assert [e.inbox_id for e in plain] == [None]
        assert [e.inbox_id for e in await store.read_events()] == [receipt.inbox_id, None]

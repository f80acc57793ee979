"""The event store's contract: the same behaviour on SQLite and on PostgreSQL.

Every test here runs once per backend through the `store` fixture.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from adapters.store import (
    ConcurrencyConflict,
    Cursor,
    Delivery,
    EventStore,
    InboxEntry,
    NewEvent,
    Receipt,
    StoredEvent,
)
from api.services.group_commit import CommitFailed, Ingestor, Limits
from domain.events import Fact, OfsDetails, ResourceInventoryCreated
from projections.live import LiveProjector

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
BIGINT_MAX = 2**63 - 1


def new_event(
    key: str,
    stream_id: str = "stream-a",
    *,
    data: dict[str, Any] | None = None,
    occurred_at: datetime = T0,
    expected_version: int | None = None,
    metadata: dict[str, Any] | None = None,
) -> NewEvent:
    return NewEvent(
        stream_id=stream_id,
        type="test.Happened",
        data={"key": key} if data is None else data,
        occurred_at=occurred_at,
        dedupe_key=key,
        expected_version=expected_version,
        metadata=metadata or {},
    )


def inbox_entry(
    message_id: str | None = "msg-1",
    *,
    source: str = "servicemobility",
    body: bytes = b'{"Id": 1}',
    headers: dict[str, str] | None = None,
) -> InboxEntry:
    return InboxEntry(
        source=source,
        kind="InventoryUsage",
        body=body,
        received_at=T0,
        message_id=message_id,
        content_type="application/json",
        headers=headers or {},
        sender="tenant-1",
    )


async def append(store: EventStore, batch: Sequence[NewEvent]) -> list[StoredEvent]:
    return await store.append(batch)


async def receive(store: EventStore, *entries: InboxEntry) -> list[int | None]:
    """Keep payloads in one transaction; the inbox id of each, None for a repeat."""
    receipts = await store.commit([Delivery(inbox=entry) for entry in entries])
    return [receipt.inbox_id for receipt in receipts]


async def quarantine(store: EventStore, entry: InboxEntry, reason: str) -> int:
    (receipt,) = await store.commit([Delivery(inbox=entry, rejected=reason)])
    assert receipt.inbox_id is not None
    return receipt.inbox_id


async def append_each(store: EventStore, keys: Sequence[str], stream_id: str) -> None:
    for key in keys:
        await append(store, [new_event(key, stream_id)])


def keys_of(events: Sequence[StoredEvent]) -> list[str]:
    return [event.dedupe_key for event in events]


def positions_of(events: Sequence[StoredEvent]) -> list[int]:
    return [event.position for event in events]


def is_utc(moment: datetime) -> bool:
    return moment.tzinfo is not None and moment.utcoffset() == timedelta(0)


class Boom(Exception):
    """Raised on purpose inside a write transaction."""


# --------------------------------------------------------------------------
# Appending and reading


async def test_append_returns_positions_in_order_and_stream_versions_from_one(
    store: EventStore,
) -> None:
    first = await append(
        store,
        [new_event("a1", "a"), new_event("b1", "b"), new_event("a2", "a"), new_event("a3", "a")],
    )
    second = await append(store, [new_event("b2", "b"), new_event("a4", "a")])

    stored = first + second
    positions = positions_of(stored)
    assert positions == sorted(positions)
    assert len(set(positions)) == len(positions)
    assert [e.version for e in stored if e.stream_id == "a"] == [1, 2, 3, 4]
    assert [e.version for e in stored if e.stream_id == "b"] == [1, 2]
    assert await store.read_all() == stored
    assert await store.head() == positions[-1]
    assert await store.count() == 6


async def test_an_empty_store_has_head_zero_and_reads_nothing(store: EventStore) -> None:
    assert await store.head() == 0
    assert await store.count() == 0
    assert await store.read_all() == []
    assert await store.read_stream("nowhere") == []
    assert await store.append([]) == []
    assert await store.commit([]) == []


async def test_read_stream_returns_only_that_stream_in_order(store: EventStore) -> None:
    await append(
        store,
        [new_event("a1", "a"), new_event("b1", "b"), new_event("a2", "a"), new_event("c1", "c")],
    )
    await append(store, [new_event("a3", "a")])

    stream = await store.read_stream("a")

    assert keys_of(stream) == ["a1", "a2", "a3"]
    assert [e.version for e in stream] == [1, 2, 3]
    assert positions_of(stream) == sorted(positions_of(stream))


async def test_read_stream_up_to_a_position_includes_that_position(store: EventStore) -> None:
    stored = await append(store, [new_event(f"a{n}", "a") for n in range(1, 6)])

    up_to_third = await store.read_stream("a", to_position=stored[2].position)

    assert keys_of(up_to_third) == ["a1", "a2", "a3"]
    assert await store.read_stream("a", to_position=stored[0].position - 1) == []


async def test_read_stream_up_to_an_event_time(store: EventStore) -> None:
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


async def test_read_stream_by_position_and_time_together(store: EventStore) -> None:
    stored = await append(
        store,
        [new_event(f"a{n}", "a", occurred_at=T0 + timedelta(days=n)) for n in range(1, 5)],
    )

    events = await store.read_stream(
        "a", to_position=stored[2].position, to_time=T0 + timedelta(days=2)
    )

    assert keys_of(events) == ["a1", "a2"]


async def test_read_all_after_a_position_in_order(store: EventStore) -> None:
    stored = await append(store, [new_event(f"k{n}", f"s{n % 3}") for n in range(8)])

    after_third = await store.read_all(after=stored[2].position)

    assert after_third == stored[3:]
    assert await store.read_all(after=stored[-1].position) == []


async def test_read_all_pages_without_gaps_or_repeats(store: EventStore) -> None:
    names = (f"k{n:03d}" for n in itertools.count())
    for size in (1, 4, 2, 7, 1, 3, 5):
        await append(store, [new_event(next(names), f"s{size % 3}") for _ in range(size)])
        # A failed batch in between: on PostgreSQL it uses up positions, which
        # leaves holes that a pager must step over.
        with pytest.raises(ConcurrencyConflict):
            await append(store, [new_event(next(names), "s0", expected_version=999)])
    everything = await store.read_all(limit=10_000)

    for limit in (1, 2, 3, 5, 100):
        pages: list[list[StoredEvent]] = []
        checkpoint = 0
        while page := await store.read_all(after=checkpoint, limit=limit):
            assert len(page) <= limit
            pages.append(page)
            checkpoint = page[-1].position
        assert [event for page in pages for event in page] == everything
    assert len(everything) == 23


async def test_read_positions_returns_those_events_in_order(store: EventStore) -> None:
    stored = await append(store, [new_event(f"k{n}") for n in range(6)])
    wanted = [stored[4].position, stored[1].position, stored[2].position]

    assert await store.read_positions(wanted) == [stored[1], stored[2], stored[4]]
    assert await store.read_positions([]) == []


async def test_what_append_returns_is_what_is_read_back(store: EventStore) -> None:
    stored = await append(
        store,
        [
            new_event("k1", "a", metadata={"request": "r-1"}),
            new_event("k2", "b", data={"nested": {"list": [1, 2.5, None, True, "x"]}}),
        ],
    )

    assert await store.read_all() == stored
    assert await store.read_stream("b") == stored[1:]


# --------------------------------------------------------------------------
# Idempotence: dedupe keys


async def test_appending_a_stored_dedupe_key_is_a_no_op(store: EventStore) -> None:
    original = await append(store, [new_event("k1", data={"version": "first"})])

    again = await append(store, [new_event("k1", data={"version": "second"})])

    assert again == []
    assert await store.read_all() == original
    assert (await store.read_all())[0].data == {"version": "first"}


async def test_append_returns_only_the_events_it_stored(store: EventStore) -> None:
    await append(store, [new_event("old-1", "a"), new_event("old-2", "b")])

    stored = await append(
        store,
        [new_event("new-1", "a"), new_event("old-1", "a"), new_event("new-2", "b")],
    )

    assert keys_of(stored) == ["new-1", "new-2"]
    assert [(e.stream_id, e.version) for e in stored] == [("a", 2), ("b", 2)]
    assert await store.count() == 4


async def test_stored_dedupe_keys_are_known_and_skipped(store: EventStore) -> None:
    await append(store, [new_event("k1"), new_event("k2")])

    stored = await append(
        store, [new_event("k1"), new_event("k3"), new_event("k2"), new_event("k1")]
    )

    assert keys_of(stored) == ["k3"]
    # What one batch appended counts for the events after it in that batch.
    more = await append(store, [new_event("k3"), new_event("k4"), new_event("k4")])
    assert keys_of(more) == ["k4"]


async def test_known_handles_more_keys_than_one_query_takes(store: EventStore) -> None:
    stored_keys = [f"k{n:04d}" for n in range(0, 1200, 2)]
    await append(store, [new_event(key, f"s{n % 7}") for n, key in enumerate(stored_keys)])

    stored = await append(store, [new_event(f"k{n:04d}", "t") for n in range(1200)])

    assert keys_of(stored) == [f"k{n:04d}" for n in range(1, 1200, 2)]


async def test_a_key_repeated_inside_one_batch_is_stored_once(store: EventStore) -> None:
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
    assert [e.data for e in await store.read_all()] == [{"copy": 1}, {"key": "k2"}]


# --------------------------------------------------------------------------
# Optimistic concurrency


async def test_expected_versions_that_match_are_appended(store: EventStore) -> None:
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


async def test_a_stale_expected_version_raises_and_appends_nothing(store: EventStore) -> None:
    await append(store, [new_event("a1", "a"), new_event("a2", "a")])
    before = await store.read_all()

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
    assert await store.read_all() == before


async def test_a_conflicting_batch_appends_nothing_and_the_next_one_goes_in(
    store: EventStore,
) -> None:
    await append(store, [new_event("a1", "a")])

    with pytest.raises(ConcurrencyConflict):
        await append(store, [new_event("b1", "b"), new_event("a2", "a", expected_version=0)])
    later = await append(store, [new_event("c1", "c")])

    assert keys_of(await store.read_all()) == ["a1", "c1"]
    assert keys_of(later) == ["c1"]


async def test_an_expected_version_ahead_of_the_stream_conflicts(store: EventStore) -> None:
    with pytest.raises(ConcurrencyConflict):
        await append(store, [new_event("a1", "a", expected_version=1)])
    assert await store.count() == 0


async def test_a_duplicate_is_skipped_before_its_expected_version_is_checked(
    store: EventStore,
) -> None:
    await append(store, [new_event("a1", "a", expected_version=0)])

    # Redelivering the same batch is a no-op, not a conflict.
    assert await append(store, [new_event("a1", "a", expected_version=0)]) == []


# --------------------------------------------------------------------------
# One transaction


class Exploding(LiveProjector):
    """Live projections that fail after folding, as a bug or a full disk would."""

    def fold(self, *args: Any) -> Any:
        super().fold(*args)
        raise Boom


async def test_a_failed_transaction_leaves_nothing(store: EventStore) -> None:
    exploding = EventStore(store.database, Exploding())
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


async def test_events_carry_the_inbox_id_of_their_payload(store: EventStore) -> None:
    (receipt,) = await store.commit(
        [Delivery(inbox=inbox_entry("msg-1"), facts=(created(1, "k1"),))]
    )
    plain = await append(store, [new_event("k2")])

    assert receipt.inbox_id is not None
    assert [e.inbox_id for e in plain] == [None]
    assert [e.inbox_id for e in await store.read_all()] == [receipt.inbox_id, None]


# --------------------------------------------------------------------------
# Inbox


@pytest.mark.parametrize(
    "body",
    [
        bytes(range(256)),
        b"\xff\xfe\x00not utf-8\xc3\x28\x80",
        b"",
        '{"name": "Zoë ✓"}'.encode(),
        b"\x00" * 3 + b"\r\n\t trailing  ",
    ],
    ids=["all-bytes", "invalid-utf8", "empty", "utf8", "nul-and-whitespace"],
)
async def test_receive_keeps_the_raw_payload_exactly(store: EventStore, body: bytes) -> None:
    entry = inbox_entry(
        "msg-1",
        body=body,
        headers={"X-Signature": "sha256=abc", "Content-Encoding": "identity", "X-Ünïcode": "é"},
    )

    (inbox_id,) = await receive(store, entry)
    assert inbox_id is not None

    kept = await store.inbox_entry(inbox_id)
    assert kept is not None
    assert kept.body == body
    assert type(kept.body) is bytes
    assert kept.headers == entry.headers
    assert kept.content_type == "application/json"
    assert (kept.source, kept.kind, kept.message_id, kept.sender) == (
        "servicemobility",
        "InventoryUsage",
        "msg-1",
        "tenant-1",
    )
    assert kept.status == "accepted"
    assert kept.reason is None
    assert kept.received_at == T0
    assert is_utc(kept.received_at)


async def test_a_repeated_message_id_from_one_source_is_not_received_again(
    store: EventStore,
) -> None:
    (first,) = await receive(store, inbox_entry("msg-1", body=b"first"))
    again, same_transaction, repeat_in_transaction = await receive(
        store,
        inbox_entry("msg-1", body=b"second"),
        inbox_entry("msg-2"),
        inbox_entry("msg-2"),
    )

    assert first is not None
    assert again is None
    assert same_transaction is not None
    assert repeat_in_transaction is None
    kept = await store.inbox_entry(first)
    assert kept is not None
    assert kept.body == b"first"
    assert await store.inbox_counts() == {"accepted": 2}


async def test_an_empty_message_id_is_a_message_id_like_any_other(store: EventStore) -> None:
    (first,) = await receive(store, inbox_entry(""))
    (again,) = await receive(store, inbox_entry(""))

    assert first is not None
    assert again is None


async def test_message_ids_are_per_source_and_payloads_without_one_are_all_kept(
    store: EventStore,
) -> None:
    received = await receive(
        store,
        inbox_entry("42", source="servicemobility"),
        inbox_entry("42", source="ofs"),
        inbox_entry(None),
        inbox_entry(None),
    )
    assert None not in received
    assert len(set(received)) == 4


async def test_quarantine_keeps_the_payload_with_its_reason(store: EventStore) -> None:
    body = b"\x00<not json>\xff"
    kept_id = await quarantine(store, inbox_entry("msg-1", body=body), "unknown RefModule 9999")

    kept = await store.inbox_entry(kept_id)
    assert kept is not None
    assert (kept.status, kept.reason, kept.body) == ("quarantined", "unknown RefModule 9999", body)
    assert await store.inbox_entries("quarantined") == [kept]
    assert await store.inbox_entries("accepted") == []


async def test_quarantine_does_not_block_a_later_accepted_delivery(store: EventStore) -> None:
    quarantined = await quarantine(store, inbox_entry("msg-1", body=b"bad"), "bad payload")
    second_quarantine = await quarantine(store, inbox_entry("msg-1", body=b"worse"), "again")
    (accepted,) = await receive(store, inbox_entry("msg-1", body=b"good"))
    (repeated,) = await receive(store, inbox_entry("msg-1", body=b"good"))

    assert accepted is not None
    assert repeated is None
    assert len({quarantined, second_quarantine, accepted}) == 3
    assert await store.inbox_counts() == {"quarantined": 2, "accepted": 1}
    kept = await store.inbox_entry(accepted)
    assert kept is not None
    assert (kept.status, kept.body) == ("accepted", b"good")


async def test_a_replayed_payload_changes_status_once(store: EventStore) -> None:
    kept_id = await quarantine(store, inbox_entry("msg-1"), "unknown shape")
    replayed = Delivery(inbox=inbox_entry("msg-1"), facts=(created(1, "k1"),), replaying=kept_id)

    first, second = await store.commit([replayed, replayed])

    kept = await store.inbox_entry(kept_id)
    assert kept is not None
    assert (kept.status, kept.reason) == ("accepted", None)
    assert (first.settled, first.appended) == (True, 1)
    assert (second.settled, second.appended) == (False, 0)
    assert await receive(store, inbox_entry("msg-1")) == [None]
    assert await store.commit([replayed]) == [Receipt(inbox_id=kept_id, settled=False)]


async def test_inbox_entries_page_by_id(store: EventStore) -> None:
    ids = await receive(store, *(inbox_entry(f"msg-{n}") for n in range(5)))

    first = await store.inbox_entries("accepted", limit=2)
    rest = await store.inbox_entries("accepted", after=first[-1].id, limit=10)

    assert [entry.id for entry in first + rest] == ids
    assert await store.inbox_entry(10_000) is None


# --------------------------------------------------------------------------
# Values


async def test_timestamps_come_back_timezone_aware_utc(store: EventStore) -> None:
    offset = timezone(timedelta(hours=-5, minutes=-30))
    occurred = datetime(2026, 3, 1, 2, 30, 15, 123456, tzinfo=offset)
    before = datetime.now(UTC)
    stored = await append(store, [new_event("k1", occurred_at=occurred)])
    after = datetime.now(UTC)

    (event,) = await store.read_all()
    assert stored == [event]
    assert is_utc(stored[0].occurred_at)
    assert is_utc(stored[0].recorded_at)
    assert event.occurred_at == occurred
    assert event.occurred_at == datetime(2026, 3, 1, 8, 0, 15, 123456, tzinfo=UTC)
    assert is_utc(event.occurred_at)
    assert is_utc(event.recorded_at)
    assert before <= event.recorded_at <= after
    (streamed,) = await store.read_stream("stream-a")
    assert is_utc(streamed.occurred_at)


async def test_naive_timestamps_are_taken_as_utc(store: EventStore) -> None:
    naive = datetime(2026, 3, 1, 8, 0, 0, 500)
    (inbox_id,) = await receive(
        store, InboxEntry(source="ofs", kind="page", body=b"{}", received_at=naive)
    )
    stored = await append(store, [new_event("k1", occurred_at=naive)])

    assert inbox_id is not None
    (event,) = await store.read_all()
    assert stored == [event]
    assert event.occurred_at == naive.replace(tzinfo=UTC)
    assert is_utc(event.occurred_at)
    kept = await store.inbox_entry(inbox_id)
    assert kept is not None
    assert kept.received_at == naive.replace(tzinfo=UTC)
    assert is_utc(kept.received_at)


async def test_metadata_round_trips(store: EventStore) -> None:
    metadata: dict[str, Any] = {
        "request_id": "req-7",
        "sender": {"tenant": "t-1", "roles": ["ingest", "read"]},
        "attempt": 3,
        "ratio": 0.25,
        "replayed": False,
        "note": None,
        "text": "Zoë ✓ \u0000 \n",
    }
    await append(store, [new_event("k1", metadata=metadata), new_event("k2")])

    first, second = await store.read_all()
    assert first.metadata == metadata
    assert second.metadata == {}


async def test_decimal_strings_in_data_round_trip_exactly(store: EventStore) -> None:
    data: dict[str, Any] = {
        "quantity": "1.10",
        "zero": "0.000",
        "negative": "-0.0001",
        "large": "123456789012345678901234567890.123456789012345678901",
        "exponent": "1E+3",
        "lines": [{"quantity_in": "2.50"}, {"quantity_out": "100"}],
    }
    as_decimals: dict[str, Any] = {
        "quantity": Decimal("1.10"),
        "large": Decimal("123456789012345678901234567890.123456789012345678901"),
        "negative_zero": Decimal("-0.00"),
    }
    await append(store, [new_event("k1", data=data), new_event("k2", data=as_decimals)])

    strings, decimals = await store.read_all()
    assert strings.data == data
    assert decimals.data == {key: str(value) for key, value in as_decimals.items()}
    assert {key: Decimal(value) for key, value in decimals.data.items()} == as_decimals
    assert Decimal(decimals.data["quantity"]).as_tuple() == Decimal("1.10").as_tuple()


async def test_events_are_upcast_on_read(store: EventStore) -> None:
    def lift(event_type: str, version: int, data: dict[str, Any]) -> tuple[dict[str, Any], int]:
        if event_type == "test.Happened" and version == 1:
            return {**data, "lifted": True}, 2
        return data, version

    await append(store, [new_event("k1")])
    upcasting = EventStore(store.database, upcaster=lift)

    (event,) = await upcasting.read_all()
    assert (event.schema_version, event.data) == (2, {"key": "k1", "lifted": True})
    (raw,) = await store.read_all()
    assert (raw.schema_version, raw.data) == (1, {"key": "k1"})


async def test_a_cursor_is_saved_and_moved(store: EventStore) -> None:
    assert await store.cursor("ofs") is None
    await store.commit(
        [Delivery(inbox=None, cursor=Cursor(name="ofs", state={"subscription_id": "sub-1"}))]
    )
    moved: dict[str, str | None] = {
        "subscription_id": "sub-1",
        "next_page": "2",
        "last_event_time": "2026-03-01 08:00:00",
    }
    await store.commit([Delivery(inbox=None, cursor=Cursor(name="ofs", state=moved))])

    assert await store.cursor("ofs") == Cursor(name="ofs", state=moved)


# --------------------------------------------------------------------------
# Group commit


def created(inventory_id: int, key: str) -> Fact:
    event = ResourceInventoryCreated(
        occurred_at=T0,
        inventory_id=inventory_id,
        details=OfsDetails(status="resource", inventory_type="METER", quantity=Decimal("1.5")),
    )
    return Fact(event=event, dedupe_key=key)


def delivery(number: int, *, inventory_id: int | None = None) -> Delivery:
    facts = (
        created(number if inventory_id is None else inventory_id, f"fact-{number}-a"),
        created(100_000 + number, f"fact-{number}-b"),
    )
    return Delivery(inbox=inbox_entry(f"delivery-{number}", source="ofs"), facts=facts)


@asynccontextmanager
async def running(ingestor: Ingestor) -> AsyncIterator[Ingestor]:
    await ingestor.start()
    try:
        yield ingestor
    finally:
        await ingestor.stop()


class CountingStore(EventStore):
    """The store, counting its write transactions."""

    transactions = 0

    async def commit(self, deliveries: Sequence[Delivery]) -> list[Receipt]:
        self.transactions += 1
        return await super().commit(deliveries)


async def test_concurrent_submits_are_all_committed_in_shared_transactions(
    store: EventStore,
) -> None:
    counting = CountingStore(store.database, LiveProjector())
    count = 100
    async with running(Ingestor(counting, limits=Limits(deliveries=32))) as ingestor:
        receipts = await asyncio.gather(*(ingestor.submit(delivery(n)) for n in range(count)))

    assert all(r.appended == 2 and r.inbox_id is not None for r in receipts)
    assert len({r.inbox_id for r in receipts}) == count
    assert await store.count() == 2 * count
    assert await store.inbox_counts() == {"accepted": count}
    stored_keys = keys_of(await store.read_all(limit=10 * count))
    assert sorted(stored_keys) == sorted(f"fact-{n}-{part}" for n in range(count) for part in "ab")
    assert counting.transactions < count


async def test_a_failing_delivery_fails_alone(store: EventStore) -> None:
    # An inventory id beyond BIGINT cannot go into the items projection on
    # either backend, so this delivery's transaction fails at the projection.
    bad = delivery(7, inventory_id=BIGINT_MAX + 1)
    deliveries = [delivery(n) for n in range(7)] + [bad] + [delivery(n) for n in range(8, 15)]

    async with running(Ingestor(store)) as ingestor:
        results = await asyncio.gather(
            *(ingestor.submit(d) for d in deliveries), return_exceptions=True
        )

    failed = [n for n, result in enumerate(results) if isinstance(result, BaseException)]
    assert failed == [7]
    assert isinstance(results[7], CommitFailed)
    assert await store.count() == 2 * 14
    stored_keys = set(keys_of(await store.read_all()))
    assert {"fact-7-a", "fact-7-b"}.isdisjoint(stored_keys)
    kept = await store.inbox_entries("accepted")
    assert len(kept) == 14
    assert "delivery-7" not in {entry.message_id for entry in kept}


async def test_a_failure_in_one_delivery_does_not_undo_the_others(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    class FailingOn(LiveProjector):
        def fold(self, slots: Any, found: Any, appended: Any, fresh: bool) -> Any:
            if any(event.dedupe_key == "fact-3-b" for _, event in appended):
                raise Boom
            return super().fold(slots, found, appended, fresh)

    failing = EventStore(store.database, FailingOn())
    async with running(Ingestor(failing)) as ingestor:
        results = await asyncio.gather(
            *(ingestor.submit(delivery(n)) for n in range(6)), return_exceptions=True
        )

    assert [isinstance(result, CommitFailed) for result in results] == [
        False,
        False,
        False,
        True,
        False,
        False,
    ]
    assert await store.count() == 2 * 5
    assert sorted(e.message_id or "" for e in await store.inbox_entries("accepted")) == [
        f"delivery-{n}" for n in (0, 1, 2, 4, 5)
    ]


async def test_a_delivery_submitted_twice_at_once_is_committed_once(store: EventStore) -> None:
    async with running(Ingestor(store)) as ingestor:
        receipts = await asyncio.gather(*(ingestor.submit(delivery(1)) for _ in range(4)))

    assert sorted(r.duplicate for r in receipts) == [False, True, True, True]
    assert sum(r.appended for r in receipts) == 2
    assert await store.count() == 2
    assert await store.inbox_counts() == {"accepted": 1}

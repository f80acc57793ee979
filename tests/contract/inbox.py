"""The contract of the inbox and the commits of deliveries: raw payloads
kept exactly, message ids, quarantine and replays, cursors, group commit."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, cast

import pytest

from adapters.store import Cursor, Delivery, Receipt, Store, Writer
from api.services.group_commit import CommitFailed, Ingestor, Limits
from projections.live import LiveProjector
from tests.contract.support import (
    BIGINT_MAX,
    T0,
    Boom,
    created,
    delivery,
    inbox_entry,
    is_utc,
    keys_of,
    opened,
    quarantine,
    receive,
    running,
)


class CountingStore:
    """A store, counting its write transactions."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.transactions = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def commit(self, deliveries: Sequence[Delivery]) -> list[Receipt]:
        self.transactions += 1
        return await self.store.commit(deliveries)


class InboxContract:
    async def test_a_receipt_carries_the_position_a_reader_must_see(self, store: Store) -> None:
        """A committed delivery's position is the store's last event position
        once it committed: its own events lie at or below it, and a
        duplicate's is no lower than the original's events."""
        first, second = await store.commit([delivery(1), delivery(2)])
        assert first.position == second.position == await store.head()
        events = await store.read_events()
        assert [event.position for event in events] == [1, 2, 3, 4]
        (again,) = await store.commit([delivery(1)])
        assert again.duplicate
        assert again.position == await store.head() == 4
        (third,) = await store.commit([delivery(3)])
        assert third.position == 6

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
    async def test_receive_keeps_the_raw_payload_exactly(self, store: Store, body: bytes) -> None:
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
        self,
        store: Store,
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

    async def test_an_empty_message_id_is_a_message_id_like_any_other(self, store: Store) -> None:
        (first,) = await receive(store, inbox_entry(""))
        (again,) = await receive(store, inbox_entry(""))

        assert first is not None
        assert again is None

    async def test_message_ids_are_per_source_and_payloads_without_one_are_all_kept(
        self,
        store: Store,
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

    async def test_quarantine_keeps_the_payload_with_its_reason(self, store: Store) -> None:
        body = b"\x00<not json>\xff"
        kept_id = await quarantine(store, inbox_entry("msg-1", body=body), "unknown RefModule 9999")

        kept = await store.inbox_entry(kept_id)
        assert kept is not None
        assert (kept.status, kept.reason, kept.body) == (
            "quarantined",
            "unknown RefModule 9999",
            body,
        )
        assert await store.inbox_entries("quarantined") == [kept]
        assert await store.inbox_entries("accepted") == []

    async def test_quarantine_does_not_block_a_later_accepted_delivery(self, store: Store) -> None:
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

    async def test_a_replayed_payload_changes_status_once(self, store: Store) -> None:
        kept_id = await quarantine(store, inbox_entry("msg-1"), "unknown shape")
        replayed = Delivery(
            inbox=inbox_entry("msg-1"), facts=(created(1, "k1"),), replaying=kept_id
        )

        first, second = await store.commit([replayed, replayed])

        kept = await store.inbox_entry(kept_id)
        assert kept is not None
        assert (kept.status, kept.reason) == ("accepted", None)
        assert (first.settled, first.appended) == (True, 1)
        assert (second.settled, second.appended) == (False, 0)
        assert await receive(store, inbox_entry("msg-1")) == [None]
        assert await store.commit([replayed]) == [
            Receipt(inbox_id=kept_id, settled=False, position=await store.head())
        ]

    async def test_inbox_entries_page_by_id(self, store: Store) -> None:
        ids = await receive(store, *(inbox_entry(f"msg-{n}") for n in range(5)))

        first = await store.inbox_entries("accepted", limit=2)
        rest = await store.inbox_entries("accepted", after=first[-1].id, limit=10)

        assert [entry.id for entry in first + rest] == ids
        assert await store.inbox_entry(10_000) is None

    async def test_a_cursor_is_saved_and_moved(self, store: Store) -> None:
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

    async def test_concurrent_submits_are_all_committed_in_shared_transactions(
        self, store: Store
    ) -> None:
        counting = CountingStore(store)
        count = 100
        ingestor = Ingestor(cast(Writer, counting), limits=Limits(deliveries=32))
        async with running(ingestor):
            receipts = await asyncio.gather(*(ingestor.submit(delivery(n)) for n in range(count)))

        assert all(r.appended == 2 and r.inbox_id is not None for r in receipts)
        assert len({r.inbox_id for r in receipts}) == count
        assert await store.count() == 2 * count
        assert await store.inbox_counts() == {"accepted": count}
        stored_keys = keys_of(await store.read_events(limit=10 * count))
        assert sorted(stored_keys) == sorted(
            f"fact-{n}-{part}" for n in range(count) for part in "ab"
        )
        assert counting.transactions < count

    async def test_a_failing_delivery_fails_alone(self, store: Store) -> None:
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
        stored_keys = set(keys_of(await store.read_events()))
        assert {"fact-7-a", "fact-7-b"}.isdisjoint(stored_keys)
        kept = await store.inbox_entries("accepted")
        assert len(kept) == 14
        assert "delivery-7" not in {entry.message_id for entry in kept}

    async def test_a_failure_in_one_delivery_does_not_undo_the_others(
        self, store: Store, database_url: str
    ) -> None:
        class FailingOn(LiveProjector):
            def fold(self, slots: Any, found: Any, appended: Any, fresh: bool) -> Any:
                if any(event.dedupe_key == "fact-3-b" for _, event in appended):
                    raise Boom
                return super().fold(slots, found, appended, fresh)

        async with (
            opened(database_url, projection=FailingOn()) as failing,
            running(Ingestor(failing)) as ingestor,
        ):
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

    async def test_a_delivery_submitted_twice_at_once_is_committed_once(self, store: Store) -> None:
        async with running(Ingestor(store)) as ingestor:
            receipts = await asyncio.gather(*(ingestor.submit(delivery(1)) for _ in range(4)))

        assert sorted(r.duplicate for r in receipts) == [False, True, True, True]
        assert sum(r.appended for r in receipts) == 2
        assert await store.count() == 2
        assert await store.inbox_counts() == {"accepted": 1}

"""The contract of what the store keeps beside the events: quarantined
payloads once per content (their count, a page of them with only the first
bytes of each body, a body read in pieces), ServiceMobility row versions and
their conflicts, pullers' cursors by name, and what a sender's payloads
stored."""

from __future__ import annotations

from datetime import timedelta

import msgspec

from adapters.store import Cursor, Delivery, InboxEntry, Received, Store
from adapters.store.common.store import CHUNK
from domain.events import Fact, RowClaim
from tests.contract.support import T0, created, inbox_entry, quarantine


def claimed(fact: Fact, version: str, content: str) -> Fact:
    claim = RowClaim(version=version, identity=f"{version}/{content}", rowver=f"rv-{version}")
    return msgspec.structs.replace(fact, row=claim, dedupe_key=f"{fact.dedupe_key}/{content}")


def lines(message_id: str, *facts: Fact) -> Delivery:
    return Delivery(inbox=inbox_entry(message_id, source="ofs"), facts=facts)


class KeptContract:
    async def test_a_bad_payload_is_kept_once_per_content(self, store: Store) -> None:
        first = await quarantine(store, inbox_entry(None, body=b"bad"), "unreadable")
        later = msgspec.structs.replace(
            inbox_entry(None, body=b"bad"), received_at=T0 + timedelta(minutes=5)
        )
        (again,) = await store.commit([Delivery(inbox=later, rejected="unreadable")])
        other = await quarantine(store, inbox_entry(None, body=b"worse"), "unreadable")

        assert (again.inbox_id, again.repeated) == (first, True)
        assert other != first
        kept = {entry.id: entry for entry in await store.inbox_entries("quarantined")}
        assert (kept[first].received_count, kept[first].last_received_at) == (2, later.received_at)
        assert (kept[other].received_count, kept[other].last_received_at) == (1, None)
        assert await store.quarantine_totals() == (2, 3)

    async def test_kept_payloads_carry_only_the_head_of_their_bodies(self, store: Store) -> None:
        body = bytes(range(256)) * 1024
        big = await quarantine(store, inbox_entry(None, body=body), "too big")
        small = await quarantine(store, inbox_entry(None, body=b"{}"), "empty")

        first, second = await store.kept_payloads("quarantined", head=100)
        assert (first.id, first.size, first.head) == (big, len(body), body[:100])
        assert (second.id, second.size, second.head) == (small, 2, b"{}")
        assert (first.reason, first.received_count, first.sender) == ("too big", 1, "tenant-1")
        assert await store.kept_payloads("quarantined", after=big, head=1) == [
            msgspec.structs.replace(second, head=b"{")
        ]
        assert await store.kept_payloads("accepted", head=10) == []

    async def test_a_body_reads_back_whole_in_pieces(self, store: Store) -> None:
        body = bytes(range(256)) * (CHUNK // 128 + 3)
        kept = await quarantine(store, inbox_entry(None, body=body), "too big")

        assert await store.body_size(kept) == len(body)
        pieces = [piece async for piece in store.body_chunks(kept, len(body))]
        assert len(pieces) > 1
        assert all(len(piece) <= CHUNK for piece in pieces)
        assert b"".join(pieces) == body
        assert b"".join([piece async for piece in store.body_chunks(kept, 10)]) == body[:10]
        assert await store.body_size(10_000) is None

    async def test_a_row_version_counts_with_its_first_content(self, store: Store) -> None:
        one, two = created(1, "line-1"), created(2, "line-2")
        (counted,) = await store.commit([lines("first", claimed(one, "v1", "a"))])
        refused = await store.commit(
            [lines("other", claimed(two, "v1", "b")), lines("again", claimed(two, "v1", "b"))]
        )
        (same,) = await store.commit([lines("same", claimed(one, "v1", "a"))])

        assert (counted.appended, counted.conflicts) == (1, 0)
        assert [(r.appended, r.conflicts) for r in refused] == [(0, 1), (0, 1)]
        assert (same.appended, same.skipped, same.conflicts) == (0, 1, 0)
        assert await store.conflict_count() == 1
        (conflict,) = await store.conflicts()
        assert (conflict.rowver, conflict.counted, conflict.identity) == ("rv-v1", "v1/a", "v1/b")
        assert (conflict.counted_inbox_id, conflict.inbox_id) == (
            counted.inbox_id,
            refused[0].inbox_id,
        )
        assert not conflict.both_counted
        assert await store.conflict(conflict.id) == conflict
        assert await store.conflict(conflict.id + 1) is None
        assert await store.conflicts(before=conflict.id) == []

    async def test_cursors_are_read_by_the_start_of_their_names(self, store: Store) -> None:
        saved = [
            Cursor(name=name, state={"at": name})
            for name in ("health:ofs", "health:sm-a", "healthy", "ofs")
        ]
        await store.commit([Delivery(inbox=None, cursor=cursor) for cursor in saved])

        assert await store.cursors("health:") == saved[:2]
        assert await store.cursors("health") == saved[:3]
        assert await store.cursors("health:sm-a") == [saved[1]]
        assert await store.cursors("none") == []
        # `_` and `%` are letters of the name, not patterns.
        assert await store.cursors("health_") == []

    async def test_what_a_sender_stored_after_a_mark(self, store: Store) -> None:
        def sent(message_id: str, sender: str | None) -> InboxEntry:
            return msgspec.structs.replace(inbox_entry(message_id, source="ofs"), sender=sender)

        await store.commit([Delivery(inbox=sent("before", "run-1"), facts=(created(1, "k-1"),))])
        head, inbox_head = await store.head(), await store.inbox_head()
        await store.commit(
            [
                Delivery(inbox=sent("late", "run-1"), facts=(created(2, "k-2"),)),
                Delivery(inbox=sent("m-1", "run-2"), facts=(created(3, "k-3"), created(4, "k-4"))),
                Delivery(inbox=sent("m-2", "run-2"), facts=(created(5, "k-5"),)),
                Delivery(inbox=sent("none", None)),
            ]
        )
        await quarantine(store, msgspec.structs.replace(inbox_entry(None), sender="run-2"), "bad")

        assert inbox_head == 1
        assert await store.inbox_head() == 6
        assert await store.received_from(
            "run-2", after_id=inbox_head, after_position=head
        ) == Received(events=3, accepted=2, others=2)
        assert await store.received_from("run-9", after_id=0, after_position=0) == Received(
            events=0, accepted=0, others=5
        )

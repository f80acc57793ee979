"""A payload that cannot be read is kept once per content: the same bytes
again (same source and kind, content type and CloudEvents headers) raise the
kept copy's count and its last received time instead of being stored again,
within a batch and across batches, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from adapters.store import Delivery, InboxEntry, Receipt, Store
from api.services.replay import replay_quarantine

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
PAGE = b'{"found": true, "nextPage": "7", "items": [{"eventType": 1}]}'


def entry(
    body: bytes = PAGE,
    *,
    minutes: int = 0,
    kind: str = "events-api",
    content_type: str | None = "application/json",
    headers: dict[str, str] | None = None,
) -> InboxEntry:
    return InboxEntry(
        source="ofs",
        kind=kind,
        body=body,
        received_at=T0 + timedelta(minutes=minutes),
        content_type=content_type,
        headers=headers or {},
        sender="ofs-poll",
    )


async def reject(store: Store, *entries: InboxEntry) -> list[Receipt]:
    return await store.commit([Delivery(inbox=e, rejected="a bad page") for e in entries])


async def test_a_repeated_payload_is_kept_once_with_its_count(store: Store) -> None:
    (first,) = await reject(store, entry())
    again = await reject(store, entry(minutes=1))
    again += await reject(store, entry(minutes=2), entry(minutes=3))

    assert first.inbox_id is not None
    assert not first.repeated
    assert [(r.inbox_id, r.quarantined, r.repeated) for r in again] == [
        (first.inbox_id, True, True)
    ] * 3
    (kept,) = await store.inbox_entries("quarantined")
    assert (kept.id, kept.body, kept.received_count) == (first.inbox_id, PAGE, 4)
    assert (kept.received_at, kept.last_received_at) == (T0, T0 + timedelta(minutes=3))
    assert await store.inbox_counts() == {"quarantined": 1}
    assert (await store.quarantine_totals())[1] == 4


async def test_repeats_within_one_batch_are_counted_on_the_new_copy(store: Store) -> None:
    receipts = await reject(store, entry(), entry(minutes=1), entry(minutes=2))

    assert len({receipt.inbox_id for receipt in receipts}) == 1
    (kept,) = await store.inbox_entries("quarantined")
    assert (kept.received_count, kept.last_received_at) == (3, T0 + timedelta(minutes=2))


async def test_what_a_replay_reads_beside_the_body_keeps_copies_apart(store: Store) -> None:
    receipts = await reject(
        store,
        entry(),
        entry(b'{"found": false}'),
        entry(kind="events"),
        entry(content_type="text/plain"),
        entry(headers={"ce-id": "a", "user-agent": "x"}),
        entry(headers={"ce-id": "b"}),
        entry(headers={"ce-id": "a", "user-agent": "y", "x-request-id": "1"}),
    )

    kept = [receipt.inbox_id for receipt in receipts]
    assert len(set(kept)) == 6
    assert kept[6] == kept[4]  # other headers than the CloudEvents ones do not count
    assert (await store.quarantine_totals())[1] == 7


async def test_the_kept_copy_replays_once(store: Store) -> None:
    readable = b'{"found": false, "nextPage": "8", "items": []}'
    await reject(store, entry(readable), entry(readable, minutes=1))

    replayed = await replay_quarantine(store)

    assert (replayed.tried, replayed.accepted) == (1, 1)
    assert await store.inbox_counts() == {"accepted": 1}


async def test_the_chart_counts_every_time_a_payload_came(store: Store) -> None:
    await reject(store, entry(), entry(minutes=1))
    await reject(store, entry(minutes=2))

    minutes = await store.received_per_minute(datetime(2000, 1, 1, tzinfo=UTC))

    assert sum(minutes.values()) == 3

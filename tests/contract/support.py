"""What the store's contract tests share: events, payloads and deliveries to
commit, and a second store opened on the same database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from adapters.store import Delivery, InboxEntry, NewEvent, Store, StoredEvent, connect
from api.services.group_commit import Ingestor
from domain.events import Fact, OfsDetails, ResourceInventoryCreated

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


async def append(store: Store, batch: Sequence[NewEvent]) -> list[StoredEvent]:
    return await store.append(batch)


async def receive(store: Store, *entries: InboxEntry) -> list[int | None]:
    """Keep payloads in one transaction; the inbox id of each, None for a repeat."""
    receipts = await store.commit([Delivery(inbox=entry) for entry in entries])
    return [receipt.inbox_id for receipt in receipts]


async def quarantine(store: Store, entry: InboxEntry, reason: str) -> int:
    (receipt,) = await store.commit([Delivery(inbox=entry, rejected=reason)])
    assert receipt.inbox_id is not None
    return receipt.inbox_id


async def append_each(store: Store, keys: Sequence[str], stream_id: str) -> None:
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


@asynccontextmanager
async def opened(database_url: str, **options: Any) -> AsyncIterator[Store]:
    """Another store on the (migrated) database of the test, opened with
    `options` (its own live projections, say)."""
    store = connect(database_url, **options)
    try:
        yield store
    finally:
        await store.close()

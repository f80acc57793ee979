"""What the store holds and what a server answers, read back for assertions."""

from __future__ import annotations

import json
from typing import Any

import httpx
import msgspec

from adapters.store import InboxRecord, Store, StoredEvent, connect
from domain.events import from_data
from domain.fold import fold
from domain.items import Item
from projections.items import record_of
from tests.harness.tokens import reader


async def all_events(store: Store) -> list[StoredEvent]:
    events: list[StoredEvent] = []
    while batch := await store.read_events(after=events[-1].position if events else 0, limit=1000):
        events.extend(batch)
    return events


async def all_inbox(store: Store) -> list[InboxRecord]:
    rows: list[InboxRecord] = []
    for status in ("accepted", "quarantined", "duplicate"):
        after = 0
        while batch := await store.inbox_entries(status, after=after, limit=500):
            rows.extend(batch)
            after = batch[-1].id
    return sorted(rows, key=lambda row: row.id)


async def listed(
    client: httpx.AsyncClient, path: str, *, unknown_is_empty: bool = False
) -> list[dict[str, Any]]:
    """Every item of a list route, page by page; with `unknown_is_empty`, an
    owner never seen (a 404) as one holding nothing."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"limit": "1000", **({"cursor": cursor} if cursor else {})}
        response = await client.get(path, params=params, headers=reader())
        if unknown_is_empty and cursor is None and response.status_code == 404:
            assert "was ever seen" in response.json()["detail"], response.text
            return []
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        cursor = page["nextCursor"]
        if cursor is None:
            return items


async def replayed_items(database_url: str) -> dict[str, Item]:
    """The items a replay makes: the store's events, folded in store order."""
    store = connect(database_url)
    try:
        events = await all_events(store)
    finally:
        await store.close()
    return fold((event.position, from_data(event.data)) for event in events)


def as_answered(item: Item) -> dict[str, Any]:
    """An item exactly as the query API writes it."""
    answer: dict[str, Any] = json.loads(msgspec.json.encode(record_of(item)))
    return answer


async def assert_projection_is_the_replay(database_url: str, server_url: str) -> int:
    """Every item the fold of the store makes is what the server answers for it,
    and the list routes hold exactly the undeleted ones. Returns the item count."""
    items = await replayed_items(database_url)
    async with httpx.AsyncClient(base_url=server_url, timeout=60) as client:
        mismatches = []
        for key, item in items.items():
            response = await client.get(f"/inventories/{key}", headers=reader())
            assert response.status_code == 200, response.text
            if response.json() != as_answered(item):
                mismatches.append((as_answered(item), response.json()))
        assert not mismatches, mismatches[:3]
        owners = {
            ("resources", item.resource_id)
            for item in items.values()
            if item.pool == "resource" and item.resource_id and not item.deleted
        }
        for kind, owner in sorted(owners):
            answered = await listed(client, f"/{kind}/{owner}/inventories")
            expected = [
                as_answered(item)
                for key, item in sorted(items.items())
                if item.pool == "resource" and item.resource_id == owner and not item.deleted
            ]
            assert answered == expected, owner
    return len(items)

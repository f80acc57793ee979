"""The read side: items by owner, one item, an item's history, now or as of a
time; counts; the owners invtrack knows.

Each read now is one query value for the store (`adapters.store.queries`),
answered as records. "As of" a time, the store gives the events that touched
the owner's items up to then, and they are folded here (`domain.fold`), as a
replay would.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import msgspec

from adapters.store import CountRecord, ItemRecord, Reader, StoredEvent
from adapters.store.queries import (
    CandidatesQuery,
    CountsQuery,
    FindQuery,
    FleetQuery,
    HistoryQuery,
    HoldersQuery,
    ItemFilter,
    ItemQuery,
    ItemsQuery,
    KnownOwnersQuery,
    LinkedQuery,
    OwnerKind,
    OwnerSeenQuery,
    OwnersQuery,
    ProductsQuery,
)
from adapters.store.summaries import FleetLine, Holding
from domain.events import from_data
from domain.fold import fold
from domain.items import Item, Source, ofs_key
from projections.items import item_of, record_of

AS_OF_CHUNK: Final = 200
"""Candidate items folded per query in an "as of" read."""


class Page(msgspec.Struct, frozen=True):
    records: list[ItemRecord]
    last_key: str | None
    """Key of the last item when more may follow, for the next cursor."""

    @property
    def items(self) -> list[Item]:
        return [item_of(record) for record in self.records]


class Queries:
    def __init__(self, store: Reader) -> None:
        self.store = store

    # ---- items -----------------------------------------------------------------

    async def list_items(
        self, where: ItemFilter, *, after: str | None, limit: int, at: datetime | None = None
    ) -> Page:
        if at is None:
            found = await self.store.fetch(ItemsQuery(where=where, after=after, limit=limit + 1))
        else:
            found = await self._as_of(where, after, limit, at)
        more = len(found) > limit
        found = found[:limit]
        return Page(found, found[-1].key if more and found else None)

    async def item(self, key: str, at: datetime | None = None) -> ItemRecord | None:
        """One item, None when no event named it."""
        if at is None:
            return await self.store.fetch(ItemQuery(key=key))
        states = await self._fold_as_of([key], at)
        return record_of(states[key]) if key in states else None

    async def _as_of(
        self, where: ItemFilter, after: str | None, limit: int, at: datetime
    ) -> list[ItemRecord]:
        """Every item the owner ever had, folded from its events up to `at`.

        An owner an item has as of `at` was named by one of its events, and the
        owners table records every owner an event named or a state held, so it
        holds every candidate.
        """
        candidates = await self.store.fetch(
            CandidatesQuery(owner_kind=where.owner_kind, owner=where.owner, after=after or "")
        )
        found: list[ItemRecord] = []
        for start in range(0, len(candidates), AS_OF_CHUNK):
            chunk = candidates[start : start + AS_OF_CHUNK]
            states = await self._fold_as_of(chunk, at)
            for key in chunk:
                item = states.get(key)
                if item is not None and _matches(item, where):
                    found.append(record_of(item))
                    if len(found) > limit:
                        return found
        return found

    async def _fold_as_of(self, keys: Sequence[str], at: datetime) -> dict[str, Item]:
        linked = await self.store.fetch(LinkedQuery(keys=tuple(keys), until=at))
        by_key: dict[str, list[tuple[int, Any]]] = {}
        for key, event in linked:
            by_key.setdefault(key, []).append((event.position, from_data(event.data)))
        states: dict[str, Item] = {}
        for key, applied in by_key.items():
            item = fold(applied).get(key)
            if item is not None:
                states[key] = item
        return states

    async def history(
        self, key: str, *, after: int = 0, limit: int | None = None
    ) -> list[StoredEvent] | None:
        """The events that touched the item after a position, oldest first; None
        for a key no event ever touched."""
        events = await self.store.fetch(HistoryQuery(key=key, after=after, limit=limit))
        if not events and after == 0:
            return None
        return events

    async def find(self, text: str, *, limit: int = 50) -> list[ItemRecord]:
        """Items whose key or serial number is `text` (an OFS inventory id
        finds its item's key), by key."""
        keys = (text, ofs_key(int(text))) if text.isdigit() and len(text) < 19 else (text,)
        return await self.store.fetch(FindQuery(keys=keys, serial=text, limit=limit))

    # ---- counts and owners -----------------------------------------------------

    async def counts(self, where: CountsQuery) -> list[CountRecord]:
        """Counts, newest first."""
        return await self.store.fetch(where)

    async def owners(
        self, kind: OwnerKind, *, search: str = "", after: str = "", limit: int = 100
    ) -> list[str]:
        """Owners of a kind invtrack knows (every owner an item ever had), in
        order, holding `search` (case-insensitive), after `after`."""
        return await self.store.fetch(
            OwnersQuery(kind=kind, search=search, after=after, limit=limit)
        )

    async def known_owners(
        self, kind: OwnerKind, source: Source | None = None, *, since: datetime | None = None
    ) -> list[str]:
        """Every owner of `kind` an item has had, now or before, sorted; only
        owners of `source`'s items when given, and only of items changed at or
        after `since` when given."""
        return await self.store.fetch(KnownOwnersQuery(kind=kind, source=source, since=since))

    async def seen(self, kind: OwnerKind, owner: str) -> bool:
        """Whether an item ever had the owner: an owner never seen is unknown."""
        return await self.store.fetch(OwnerSeenQuery(kind=kind, owner=owner))

    # ---- summaries -------------------------------------------------------------

    async def fleet(self, search: str = "") -> list[FleetLine]:
        """Every technician or storage location holding `search`, its stock
        summed up, by owner."""
        return await self.store.fetch(FleetQuery(search=search))

    async def holders(self, product: str) -> list[Holding]:
        """Who holds a product (a product number or an inventory type)."""
        return await self.store.fetch(HoldersQuery(product=product))

    async def products(self, search: str, *, limit: int = 50) -> list[str]:
        """Product numbers and inventory types holding `search`, in order."""
        return await self.store.fetch(ProductsQuery(search=search, limit=limit))


def _matches(item: Item, where: ItemFilter) -> bool:
    owner = {
        "resource": item.resource_id,
        "activity": item.activity_id,
        "customer": item.customer_number,
    }[where.owner_kind]
    return (
        owner == where.owner
        and not item.deleted
        and (not where.pools or item.pool in where.pools)
        and (where.source is None or item.source == where.source)
        and (where.inventory_type is None or item.inventory_type == where.inventory_type)
    )

"""The read side: items by owner, one item, an item's history, now or as of a time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

import msgspec
from sqlalchemy import MetaData, Row, Select, Table, and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.store import EventStore, StoredEvent
from adapters.store.schema import events as events_table
from domain.events import DomainEvent, from_data
from domain.fold import fold
from domain.items import Item, Pool, Source
from projections.base import Slot, active_versions, shared_table
from projections.history import item_events_table
from projections.items import from_row, items_table, owners_table

OwnerKind = Literal["resource", "activity", "customer"]


class ItemFilter(msgspec.Struct, frozen=True, kw_only=True):
    owner_kind: OwnerKind
    owner: str
    pools: tuple[Pool, ...] | None = None
    source: Source | None = None
    inventory_type: str | None = None


class Page(msgspec.Struct, frozen=True):
    items: list[Item]
    last_key: str | None
    """Key of the last item when more may follow, for the next cursor."""


class NotReady(Exception):
    """The projections have not been set up (run `invtrack migrate`)."""


class Queries:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    def _table(self, define: Callable[[Slot, MetaData], Table], slot: Slot) -> Table:
        return shared_table(define, slot)

    async def _versions(self, conn: AsyncConnection) -> tuple[Slot, Slot]:
        active = await active_versions(conn)
        if "items" not in active or "history" not in active:
            raise NotReady("projections are not set up")
        return active["items"], active["history"]

    async def list_items(
        self, where: ItemFilter, *, after: str | None, limit: int, at: datetime | None = None
    ) -> Page:
        async with self.store.reading() as conn:
            items_version, history_version = await self._versions(conn)
            if at is None:
                found = await self._current(conn, items_version, where, after, limit)
            else:
                found = await self._as_of(
                    conn, items_version, history_version, where, after, limit, at
                )
        more = len(found) > limit
        found = found[:limit]
        return Page(found, found[-1].key if more and found else None)

    async def _current(
        self,
        conn: AsyncConnection,
        version: Slot,
        where: ItemFilter,
        after: str | None,
        limit: int,
    ) -> list[Item]:
        table = self._table(items_table, version)
        owner_column = {
            "resource": table.c.resource_id,
            "activity": table.c.activity_id,
            "customer": table.c.customer_number,
        }[where.owner_kind]
        query: Select[tuple[object, ...]] = select(table).where(
            owner_column == where.owner, table.c.deleted.is_(False)
        )
        if where.pools:
            query = query.where(table.c.pool.in_(where.pools))
        if where.source:
            query = query.where(table.c.source == where.source)
        if where.inventory_type:
            query = query.where(table.c.inventory_type == where.inventory_type)
        if after:
            query = query.where(table.c.key > after)
        rows = await conn.execute(query.order_by(table.c.key).limit(limit + 1))
        return [from_row(row) for row in rows]

    async def _as_of(
        self,
        conn: AsyncConnection,
        items_version: Slot,
        history_version: Slot,
        where: ItemFilter,
        after: str | None,
        limit: int,
        at: datetime,
    ) -> list[Item]:
        """Every item the owner ever had, folded from its events up to `at`.

        An owner an item has as of `at` was named by one of its events, and the
        owners table records every owner an event named or a state held, so it
        holds every candidate.
        """
        owners = self._table(owners_table, items_version)
        query = select(owners.c.key).where(
            owners.c.kind == where.owner_kind, owners.c.owner == where.owner
        )
        if after:
            query = query.where(owners.c.key > after)
        candidates = [row[0] for row in await conn.execute(query.order_by(owners.c.key))]
        found: list[Item] = []
        for start in range(0, len(candidates), 200):
            chunk = candidates[start : start + 200]
            states = await self._fold_as_of(conn, history_version, chunk, at)
            for key in chunk:
                item = states.get(key)
                if item is not None and _matches(item, where):
                    found.append(item)
                    if len(found) > limit:
                        return found
        return found

    async def item(self, key: str, at: datetime | None = None) -> Item | None:
        async with self.store.reading() as conn:
            items_version, history_version = await self._versions(conn)
            if at is not None:
                return (await self._fold_as_of(conn, history_version, [key], at)).get(key)
            table = self._table(items_table, items_version)
            row = (await conn.execute(select(table).where(table.c.key == key))).first()
        return None if row is None else from_row(row)

    async def history(
        self, key: str, *, after: int = 0, limit: int | None = None
    ) -> list[StoredEvent] | None:
        """The events that touched the item after a position, oldest first; None
        for a key no event ever touched."""
        async with self.store.reading() as conn:
            _, history_version = await self._versions(conn)
            rows = await self._history_rows(
                conn, history_version, [key], None, after=after, limit=limit
            )
        if not rows and after == 0:
            return None
        return [self.store.to_stored(row) for row in rows]

    async def _fold_as_of(
        self, conn: AsyncConnection, history_version: Slot, keys: Sequence[str], at: datetime
    ) -> dict[str, Item]:
        rows = await self._history_rows(conn, history_version, keys, at)
        stored = [self.store.to_stored(row) for row in rows]
        states: dict[str, Item] = {}
        by_key: dict[str, list[tuple[int, DomainEvent]]] = {}
        for row, event in zip(rows, stored, strict=True):
            by_key.setdefault(row.item_key, []).append((event.position, from_data(event.data)))
        for key, applied in by_key.items():
            item = fold(applied).get(key)
            if item is not None:
                states[key] = item
        return states

    async def _history_rows(
        self,
        conn: AsyncConnection,
        version: Slot,
        keys: Sequence[str],
        at: datetime | None,
        *,
        after: int = 0,
        limit: int | None = None,
    ) -> list[Row[Any]]:
        links = self._table(item_events_table, version)
        query = (
            select(events_table, links.c.key.label("item_key"))
            .join(links, and_(links.c.position == events_table.c.position))
            .where(links.c.key.in_(keys))
        )
        if at is not None:
            query = query.where(events_table.c.occurred_at <= at)
        if after:
            query = query.where(events_table.c.position > after)
        query = query.order_by(events_table.c.position)
        if limit is not None:
            query = query.limit(limit)
        return list(await conn.execute(query))

    async def known_owners(self, kind: OwnerKind, source: Source | None = None) -> list[str]:
        """Every owner of `kind` an item has had, now or before, sorted; only
        owners of `source`'s items when given. Reads the active items slot."""
        async with self.store.reading() as conn:
            items_version, _ = await self._versions(conn)
            owners = self._table(owners_table, items_version)
            query = select(owners.c.owner).where(owners.c.kind == kind)
            if source is not None:
                items = self._table(items_table, items_version)
                query = query.join(items, items.c.key == owners.c.key).where(
                    items.c.source == source
                )
            rows = await conn.execute(query.distinct().order_by(owners.c.owner))
            return [str(row[0]) for row in rows]


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

"""The read side: items by owner, one item, an item's history, now or as of a
time; counts; the owners invtrack knows.

Every query is one guarded statement on the raw driver (see
`adapters.store.reads`): the active slots are cached and a query learns of a
rebuild's switch from the statement itself. Items come back as rows in the
order of `projections.items.ITEM_COLUMNS`, which is the order the API writes
them; `Page.items` gives them as domain items.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Final, Literal, TypeVar

import msgspec

from adapters.store import EventStore, Slot, StoredEvent
from adapters.store.reads import GUARDED, fetch_guarded
from adapters.store.rows import Row
from adapters.store.sqlite import decoders
from domain.events import from_data
from domain.fold import fold
from domain.items import Item, Pool, Source, ofs_key
from projections import counts, history, items
from projections.items import ITEM_COLUMNS, item_of, row_of

OwnerKind = Literal["resource", "activity", "customer"]
T = TypeVar("T")

OWNER_COLUMNS: Final = {
    "resource": "resource_id",
    "activity": "activity_id",
    "customer": "customer_number",
}
AS_OF_CHUNK: Final = 200
"""Candidate items folded per statement in an "as of" query."""


class ItemFilter(msgspec.Struct, frozen=True, kw_only=True):
    owner_kind: OwnerKind
    owner: str
    pools: tuple[Pool, ...] | None = None
    source: Source | None = None
    inventory_type: str | None = None


class Page(msgspec.Struct, frozen=True):
    rows: list[Row]
    """Items as rows of ITEM_COLUMNS."""
    last_key: str | None
    """Key of the last item when more may follow, for the next cursor."""

    @property
    def items(self) -> list[Item]:
        return [item_of(row) for row in self.rows]


class CountFilter(msgspec.Struct, frozen=True, kw_only=True):
    location: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class NotReady(Exception):
    """The projections have not been set up (run `invtrack migrate`)."""


class Queries:
    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._slots: dict[str, Slot] = {}

    async def _guarded(
        self, name: str, read: Callable[[tuple[str, Slot]], Awaitable[T | None]]
    ) -> T:
        """`read` on the active slot of a projection; when a switch happened
        since the slot was cached, again on the new one."""
        for _ in range(3):
            slot = self._slots.get(name)
            if slot is None:
                self._slots = await self.store.active_slots()
                slot = self._slots.get(name)
                if slot is None:
                    raise NotReady(f"the {name} projection is not set up")
            found = await read((name, slot))
            if found is not None:
                return found
            self._slots = {}
        raise NotReady(f"the {name} projection keeps switching")

    # ---- items -----------------------------------------------------------------

    async def list_items(
        self, where: ItemFilter, *, after: str | None, limit: int, at: datetime | None = None
    ) -> Page:
        if at is None:
            rows = await self._guarded(
                items.NAME, lambda guard: self._current(guard, where, after, limit)
            )
        else:
            rows = await self._as_of(where, after, limit, at)
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(rows, rows[-1][0] if more and rows else None)

    async def _current(
        self, guard: tuple[str, Slot], where: ItemFilter, after: str | None, limit: int
    ) -> list[Row] | None:
        table = items.tables(guard[1])[0].name
        where_sql, parameters = _where(
            (f"{OWNER_COLUMNS[where.owner_kind]} = ${{}}", where.owner),
            ("NOT deleted", True),
            ("pool IN_LIST(${})", list(where.pools) if where.pools else None),
            ("source = ${}", where.source),
            ("inventory_type = ${}", where.inventory_type),
            ("key > ${}", after),
        )
        parameters.append(limit + 1)
        statement = (
            f"SELECT {', '.join(ITEM_COLUMNS)} FROM {table} "  # noqa: S608  # fixed names
            f"WHERE {where_sql} ORDER BY key LIMIT ${len(parameters) + GUARDED}"
        )
        return await fetch_guarded(
            self.store.database, guard, statement, parameters, _item_decoders(guard[1])
        )

    async def item(self, key: str, at: datetime | None = None) -> Row | None:
        """One item as a row of ITEM_COLUMNS, None when no event named it."""
        if at is not None:
            states = await self._fold_as_of([key], at)
            return row_of(states[key]) if key in states else None
        rows = await self._guarded(items.NAME, lambda guard: self._one(guard, key))
        return rows[0] if rows else None

    async def _one(self, guard: tuple[str, Slot], key: str) -> list[Row] | None:
        table = items.tables(guard[1])[0].name
        return await fetch_guarded(
            self.store.database,
            guard,
            f"SELECT {', '.join(ITEM_COLUMNS)} FROM {table} WHERE key = $4",  # noqa: S608
            [key],
            _item_decoders(guard[1]),
        )

    async def _as_of(
        self, where: ItemFilter, after: str | None, limit: int, at: datetime
    ) -> list[Row]:
        """Every item the owner ever had, folded from its events up to `at`.

        An owner an item has as of `at` was named by one of its events, and the
        owners table records every owner an event named or a state held, so it
        holds every candidate.
        """
        candidates = await self._guarded(
            items.NAME, lambda guard: self._candidates(guard, where, after)
        )
        found: list[Row] = []
        for start in range(0, len(candidates), AS_OF_CHUNK):
            chunk = candidates[start : start + AS_OF_CHUNK]
            states = await self._fold_as_of(chunk, at)
            for key in chunk:
                item = states.get(key)
                if item is not None and _matches(item, where):
                    found.append(row_of(item))
                    if len(found) > limit:
                        return found
        return found

    async def _candidates(
        self, guard: tuple[str, Slot], where: ItemFilter, after: str | None
    ) -> list[str] | None:
        table = items.tables(guard[1])[1].name
        rows = await fetch_guarded(
            self.store.database,
            guard,
            f"SELECT key FROM {table} "  # noqa: S608  # fixed names
            "WHERE kind = $4 AND owner = $5 AND key > $6 ORDER BY key",
            [where.owner_kind, where.owner, after or ""],
        )
        return None if rows is None else [row[0] for row in rows]

    async def _fold_as_of(self, keys: Sequence[str], at: datetime) -> dict[str, Item]:
        linked = await self._guarded(
            history.NAME,
            lambda guard: self.store.linked_before(guard, history.links_table(guard[1]), keys, at),
        )
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
        events = await self._guarded(
            history.NAME,
            lambda guard: self.store.linked_events(
                guard, history.links_table(guard[1]), key, after=after, limit=limit
            ),
        )
        if not events and after == 0:
            return None
        return events

    async def find(self, text: str, *, limit: int = 50) -> list[Row]:
        """Items whose key or serial number is `text` (an OFS inventory id
        finds its item's key), as rows of ITEM_COLUMNS, by key."""
        return await self._guarded(items.NAME, lambda guard: self._find(guard, text, limit))

    async def _find(self, guard: tuple[str, Slot], text: str, limit: int) -> list[Row] | None:
        table = items.tables(guard[1])[0].name
        keys = [text, ofs_key(int(text))] if text.isdigit() and len(text) < 19 else [text]
        return await fetch_guarded(
            self.store.database,
            guard,
            f"SELECT {', '.join(ITEM_COLUMNS)} FROM {table} "  # noqa: S608  # fixed names
            "WHERE key IN_LIST($4) OR serial_number = $5 ORDER BY key LIMIT $6",
            [keys, text, limit],
            _item_decoders(guard[1]),
        )

    # ---- counts and owners -----------------------------------------------------

    async def counts(self, where: CountFilter, *, after: int | None, limit: int) -> list[Row]:
        """Counts, newest first, as rows of `counts.COUNT_COLUMNS`; `after` is
        the position of the last one of the previous page."""
        return await self._guarded(
            counts.NAME, lambda guard: self._counts(guard, where, after, limit)
        )

    async def _counts(
        self, guard: tuple[str, Slot], where: CountFilter, after: int | None, limit: int
    ) -> list[Row] | None:
        table = counts.counts_table(guard[1])
        where_sql, parameters = _where(
            ("location = ${}", where.location),
            ("occurred_at >= ${}", where.since),
            ("occurred_at < ${}", where.until),
            ("position < ${}", after),
        )
        parameters.append(limit)
        statement = (
            f"SELECT {', '.join(counts.COUNT_COLUMNS)} FROM {table.name} "  # noqa: S608
            f"WHERE {where_sql} ORDER BY position DESC LIMIT ${len(parameters) + GUARDED}"
        )
        return await fetch_guarded(
            self.store.database,
            guard,
            statement,
            parameters,
            decoders(table, counts.COUNT_COLUMNS),
        )

    async def owners(
        self, kind: OwnerKind, *, search: str = "", after: str = "", limit: int = 100
    ) -> list[str]:
        """Owners of a kind invtrack knows (every owner an item ever had), in
        order, holding `search` (case-insensitive), after `after`."""
        return await self._guarded(
            items.NAME, lambda guard: self._owners(guard, kind, search, after, limit)
        )

    async def _owners(
        self, guard: tuple[str, Slot], kind: OwnerKind, search: str, after: str, limit: int
    ) -> list[str] | None:
        table = items.tables(guard[1])[1].name
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = await fetch_guarded(
            self.store.database,
            guard,
            f"SELECT DISTINCT owner FROM {table} "  # noqa: S608  # fixed names
            "WHERE kind = $4 AND owner > $5 AND lower(owner) LIKE lower($6) ESCAPE '\\' "
            "ORDER BY owner LIMIT $7",
            [kind, after, pattern, limit],
        )
        return None if rows is None else [row[0] for row in rows]

    async def known_owners(
        self, kind: OwnerKind, source: Source | None = None, *, since: datetime | None = None
    ) -> list[str]:
        """Every owner of `kind` an item has had, now or before, sorted; only
        owners of `source`'s items when given, and only of items changed at or
        after `since` when given."""
        return await self._guarded(
            items.NAME, lambda guard: self._known_owners(guard, kind, source, since)
        )

    async def _known_owners(
        self,
        guard: tuple[str, Slot],
        kind: OwnerKind,
        source: Source | None,
        since: datetime | None,
    ) -> list[str] | None:
        items_table, owners_table = (table.name for table in items.tables(guard[1]))
        conditions = "WHERE o.kind = $4"
        parameters: list[Any] = [kind]
        join = ""
        if source is not None or since is not None:
            join = f"JOIN {items_table} AS i ON i.key = o.key "
        if source is not None:
            parameters.append(source)
            conditions += f" AND i.source = ${len(parameters) + 3}"
        if since is not None:
            parameters.append(since)
            conditions += f" AND i.updated_at >= ${len(parameters) + 3}"
        rows = await fetch_guarded(
            self.store.database,
            guard,
            f"SELECT DISTINCT o.owner FROM {owners_table} AS o {join}"  # noqa: S608
            f"{conditions} ORDER BY o.owner",
            parameters,
        )
        return None if rows is None else [row[0] for row in rows]


def _item_decoders(slot: Slot) -> Any:
    return decoders(items.tables(slot)[0], ITEM_COLUMNS)


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


def _where(*conditions: tuple[str, Any]) -> tuple[str, list[Any]]:
    """The conditions whose value is given, joined, each `${}` numbered after
    the guard's parameters; and their values. A condition without a `${}`
    takes no parameter."""
    parts: list[str] = []
    parameters: list[Any] = []
    for condition, value in conditions:
        if value is None:
            continue
        if "${}" in condition:
            parameters.append(value)
            condition = condition.format(len(parameters) + GUARDED)
        parts.append(condition)
    return " AND ".join(parts) or "true", parameters

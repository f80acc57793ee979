"""Each query value as its one SQLite statement, and its rows as records.

A statement's parameters are numbered as they are written (`Parameters`);
timestamps go and come back as the store's UTC text. Its text depends on which
filters a query has, never on their values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Final

from adapters.store.common.reads import stored_event
from adapters.store.feed import like_prefix, state_at
from adapters.store.projection_tables import (
    COUNT_COLUMNS,
    ITEM_COLUMNS,
    count_record,
    counts_table,
    item_record,
    items_tables,
    links_table,
)
from adapters.store.queries import (
    CandidatesQuery,
    CountsQuery,
    FindQuery,
    FleetQuery,
    HistoryQuery,
    HoldersQuery,
    ItemQuery,
    ItemsQuery,
    KnownOwnersQuery,
    LinkedQuery,
    OwnerSeenQuery,
    OwnersQuery,
    ProductsQuery,
    Query,
    SnapshotQuery,
)
from adapters.store.records import Slot, Upcast
from adapters.store.schema import EVENT_COLUMNS, events
from adapters.store.sqlite.signal_queries import SIGNAL_STATEMENTS
from adapters.store.sqlite.statements import convert, decoders, from_text, json_list, to_text
from adapters.store.summaries import UNITS_SEPARATOR, fleet_lines, holdings

Decode = Callable[[Sequence[Any], Slot, Upcast], Any]
"""A statement's rows as its query's answer."""

OWNER_COLUMNS: Final = {
    "resource": "resource_id",
    "activity": "activity_id",
    "customer": "customer_number",
}
_ITEM_FIELDS: Final = ", ".join(ITEM_COLUMNS)
_COUNT_FIELDS: Final = ", ".join(COUNT_COLUMNS)
_EVENT_FIELDS: Final = ", ".join(f"e.{name}" for name in EVENT_COLUMNS)
_NO_LIMIT: Final = 2**62
_EVENT_DECODERS: Final = decoders(events, EVENT_COLUMNS)


class Parameters:
    """A statement's values, each written `?n` where it is used."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(to_text(value) if isinstance(value, datetime) else value)
        return f"?{len(self.values)}"

    def in_list(self, values: Sequence[Any]) -> str:
        """Membership in a list, sent as one JSON text."""
        return f"IN (SELECT value FROM json_each({self(json_list(values))}))"  # noqa: S608


Statement = tuple[str, Decode]


def _items(query: ItemsQuery, slot: Slot, p: Parameters) -> Statement:
    where = query.where
    conditions = [f"{OWNER_COLUMNS[where.owner_kind]} = {p(where.owner)}", "NOT deleted"]
    if where.pools:
        conditions.append(f"pool {p.in_list(where.pools)}")
    if where.source is not None:
        conditions.append(f"source = {p(where.source)}")
    if where.inventory_type is not None:
        conditions.append(f"inventory_type = {p(where.inventory_type)}")
    if query.after is not None:
        conditions.append(f"key > {p(query.after)}")
    table = items_tables(slot)[0].name
    return (
        f"SELECT {_ITEM_FIELDS} FROM {table} WHERE {' AND '.join(conditions)} "  # noqa: S608
        f"ORDER BY key LIMIT {p(query.limit)}",
        _item_list,
    )


def _item(query: ItemQuery, slot: Slot, p: Parameters) -> Statement:
    table = items_tables(slot)[0].name
    return f"SELECT {_ITEM_FIELDS} FROM {table} WHERE key = {p(query.key)}", _one_item  # noqa: S608


def _find(query: FindQuery, slot: Slot, p: Parameters) -> Statement:
    table = items_tables(slot)[0].name
    return (
        f"SELECT {_ITEM_FIELDS} FROM {table} "  # noqa: S608  # names from the schema
        f"WHERE key {p.in_list(query.keys)} OR serial_number = {p(query.serial)} "
        f"ORDER BY key LIMIT {p(query.limit)}",
        _item_list,
    )


def _candidates(query: CandidatesQuery, slot: Slot, p: Parameters) -> Statement:
    table = items_tables(slot)[1].name
    return (
        f"SELECT key FROM {table} WHERE kind = {p(query.owner_kind)} "  # noqa: S608
        f"AND owner = {p(query.owner)} AND key > {p(query.after)} ORDER BY key",
        _firsts,
    )


def _owners(query: OwnersQuery, slot: Slot, p: Parameters) -> Statement:
    table = items_tables(slot)[1].name
    escaped = query.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return (
        f"SELECT DISTINCT owner FROM {table} WHERE kind = {p(query.kind)} "  # noqa: S608
        f"AND owner > {p(query.after)} AND lower(owner) LIKE lower({p(f'%{escaped}%')}) "
        f"ESCAPE '\\' ORDER BY owner LIMIT {p(query.limit)}",
        _firsts,
    )


def _known_owners(query: KnownOwnersQuery, slot: Slot, p: Parameters) -> Statement:
    items, owners = (table.name for table in items_tables(slot))
    conditions = [f"o.kind = {p(query.kind)}"]
    if query.source is not None:
        conditions.append(f"i.source = {p(query.source)}")
    if query.since is not None:
        conditions.append(f"i.updated_at >= {p(query.since)}")
    join = f"JOIN {items} AS i ON i.key = o.key " if len(conditions) > 1 else ""
    return (
        f"SELECT DISTINCT o.owner FROM {owners} AS o {join}"  # noqa: S608  # schema names
        f"WHERE {' AND '.join(conditions)} ORDER BY o.owner",
        _firsts,
    )


def _history(query: HistoryQuery, slot: Slot, p: Parameters) -> Statement:
    links = links_table(slot).name
    limit = query.limit if query.limit is not None else _NO_LIMIT
    return (
        f"SELECT {_EVENT_FIELDS} FROM {links} AS l "  # noqa: S608  # names from the schema
        f"JOIN events AS e ON e.position = l.position WHERE l.key = {p(query.key)} "
        f"AND l.position > {p(query.after)} ORDER BY l.position LIMIT {p(limit)}",
        _events,
    )


def _linked(query: LinkedQuery, slot: Slot, p: Parameters) -> Statement:
    links = links_table(slot).name
    return (
        f"SELECT l.key, {_EVENT_FIELDS} FROM {links} AS l "  # noqa: S608
        f"JOIN events AS e ON e.position = l.position WHERE l.key {p.in_list(query.keys)} "
        f"AND e.occurred_at <= {p(query.until)} ORDER BY e.position",
        _keyed_events,
    )


def _counts(query: CountsQuery, slot: Slot, p: Parameters) -> Statement:
    conditions = []
    if query.location is not None:
        conditions.append(f"location = {p(query.location)}")
    if query.since is not None:
        conditions.append(f"occurred_at >= {p(query.since)}")
    if query.until is not None:
        conditions.append(f"occurred_at < {p(query.until)}")
    if query.before is not None:
        conditions.append(f"position < {p(query.before)}")
    where = " AND ".join(conditions) or "true"
    return (
        f"SELECT {_COUNT_FIELDS} FROM {counts_table(slot).name} "  # noqa: S608
        f"WHERE {where} ORDER BY position DESC LIMIT {p(query.limit)}",
        _count_list,
    )


def _snapshot(query: SnapshotQuery, slot: Slot, p: Parameters) -> Statement:
    """Items by key, each with whether it changed after the feed's position
    (its last event is after that position's event) and then its last entry
    at or before that position."""
    items, owners = (table.name for table in items_tables(slot))
    position = p(query.position)
    conditions = []
    if query.after is not None:
        conditions.append(f"i.key > {p(query.after)}")
    if query.prefixes:
        likes = (f"i.key LIKE {p(like_prefix(prefix))} ESCAPE '\\'" for prefix in query.prefixes)
        conditions.append(f"({' OR '.join(likes)})")
    for kind, names in query.owners:
        conditions.append(
            f"i.key IN (SELECT o.key FROM {owners} AS o WHERE o.kind = {p(kind)} "  # noqa: S608
            f"AND o.owner {p.in_list(names)})"
        )
    fields = ", ".join(f"i.{name}" for name in ITEM_COLUMNS)
    at = f"coalesce((SELECT event_position FROM feed WHERE position = {position}), 0)"  # noqa: S608
    return (
        f"SELECT {fields}, i.position > {at}, CASE WHEN i.position > {at} THEN "  # noqa: S608
        f"(SELECT f.entry FROM feed AS f WHERE f.subject = i.key AND f.position <= {position} "
        "ORDER BY f.position DESC LIMIT 1) END "
        f"FROM {items} AS i WHERE {' AND '.join(conditions) or '1'} "
        f"ORDER BY i.key LIMIT {p(query.limit)}",
        _snapshot_items,
    )


def _snapshot_items(rows: Sequence[Any], slot: Slot, _: Upcast) -> Any:
    items = _items_of([row[:-2] for row in rows], slot)
    return [
        state_at(item_record(item), bool(row[-2]), row[-1])
        for item, row in zip(items, rows, strict=True)
    ]


def _items_of(rows: Sequence[Any], slot: Slot) -> list[Any]:
    return convert(rows, decoders(items_tables(slot)[0], ITEM_COLUMNS))


def _item_list(rows: Sequence[Any], slot: Slot, _: Upcast) -> Any:
    return [item_record(row) for row in _items_of(rows, slot)]


def _one_item(rows: Sequence[Any], slot: Slot, _: Upcast) -> Any:
    return item_record(_items_of(rows, slot)[0]) if rows else None


def _firsts(rows: Sequence[Any], _: Slot, __: Upcast) -> Any:
    return [row[0] for row in rows]


def _events(rows: Sequence[Any], _: Slot, upcast: Upcast) -> Any:
    return [stored_event(row, upcast) for row in convert(rows, _EVENT_DECODERS)]


def _keyed_events(rows: Sequence[Any], _: Slot, upcast: Upcast) -> Any:
    return [
        (row[0], stored_event(row[1:], upcast)) for row in convert(rows, (None, *_EVENT_DECODERS))
    ]


def _count_list(rows: Sequence[Any], slot: Slot, _: Upcast) -> Any:
    converted = convert(rows, decoders(counts_table(slot), COUNT_COLUMNS))
    return [count_record(row) for row in converted]


def _contains(search: str) -> str:
    """A LIKE pattern for text holding `search`, its `%`, `_` and `\\` as letters."""
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _owner_seen(query: OwnerSeenQuery, slot: Slot, p: Parameters) -> Statement:
    table = items_tables(slot)[1].name
    return (
        f"SELECT 1 FROM {table} WHERE kind = {p(query.kind)} "  # noqa: S608
        f"AND owner = {p(query.owner)} LIMIT 1",
        _any_row,
    )


def _fleet(query: FleetQuery, slot: Slot, p: Parameters) -> Statement:
    """Each resource's own pool summed up; its last change over every item
    naming it, in any pool."""
    items, owners = (table.name for table in items_tables(slot))
    return (
        f"SELECT o.owner, count(i.key), sum(CASE WHEN i.quantity LIKE '-%' THEN 1 ELSE 0 END), "  # noqa: S608
        f"group_concat(i.quantity, '{UNITS_SEPARATOR}'), "
        f"(SELECT max(a.updated_at) FROM {items} AS a WHERE a.resource_id = o.owner) "
        f"FROM (SELECT DISTINCT owner FROM {owners} WHERE kind = 'resource' "
        f"AND lower(owner) LIKE lower({p(_contains(query.search))}) ESCAPE '\\') AS o "
        f"LEFT JOIN {items} AS i ON i.resource_id = o.owner AND i.pool = 'resource' "
        "AND NOT i.deleted GROUP BY o.owner ORDER BY o.owner",
        _fleet_lines,
    )


def _holders(query: HoldersQuery, slot: Slot, p: Parameters) -> Statement:
    table = items_tables(slot)[0].name
    product = p(query.product)
    return (
        f"SELECT pool, resource_id, activity_id, customer_number, count(key), "  # noqa: S608
        f"group_concat(quantity, '{UNITS_SEPARATOR}'), max(updated_at) FROM {table} "
        f"WHERE NOT deleted AND (product_number = {product} OR inventory_type = {product}) "
        "GROUP BY pool, resource_id, activity_id, customer_number",
        _holdings,
    )


def _products(query: ProductsQuery, slot: Slot, p: Parameters) -> Statement:
    table = items_tables(slot)[0].name
    pattern = p(_contains(query.search))
    return (
        f"SELECT code FROM (SELECT product_number AS code FROM {table} "  # noqa: S608
        f"UNION SELECT inventory_type FROM {table}) AS codes WHERE code IS NOT NULL "
        f"AND lower(code) LIKE lower({pattern}) ESCAPE '\\' ORDER BY code LIMIT {p(query.limit)}",
        _firsts,
    )


def _any_row(rows: Sequence[Any], _: Slot, __: Upcast) -> Any:
    return bool(rows)


def _fleet_lines(rows: Sequence[Any], _: Slot, __: Upcast) -> Any:
    return fleet_lines(_times(rows, -1))


def _holdings(rows: Sequence[Any], _: Slot, __: Upcast) -> Any:
    return holdings(_times(rows, -1))


def _times(rows: Sequence[Any], at: int) -> list[list[Any]]:
    """Rows with the timestamp text at `at` read back as a time."""
    converted = [list(row) for row in rows]
    for row in converted:
        row[at] = from_text(row[at])
    return converted


_STATEMENTS: Final[dict[type[Any], Callable[[Any, Slot, Parameters], Statement]]] = {
    ItemsQuery: _items,
    ItemQuery: _item,
    FindQuery: _find,
    CandidatesQuery: _candidates,
    OwnersQuery: _owners,
    KnownOwnersQuery: _known_owners,
    HistoryQuery: _history,
    LinkedQuery: _linked,
    CountsQuery: _counts,
    SnapshotQuery: _snapshot,
    **SIGNAL_STATEMENTS,
    OwnerSeenQuery: _owner_seen,
    FleetQuery: _fleet,
    HoldersQuery: _holders,
    ProductsQuery: _products,
}


def statement(query: Query[Any], slot: Slot, parameters: Parameters) -> Statement:
    """The query's statement (its values added to `parameters`) and how its
    rows make the answer."""
    return _STATEMENTS[type(query)](query, slot, parameters)

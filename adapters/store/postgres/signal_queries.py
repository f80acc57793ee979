"""The stock signals' query values as PostgreSQL statements."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol

from adapters.store.records import Slot, Upcast
from adapters.store.signal_queries import (
    ActivitiesOnQuery,
    ActivityQuery,
    LowStockQuery,
    ParSummary,
    ParSummaryQuery,
    StockQuery,
    TransfersQuery,
)
from adapters.store.signal_tables import STOCK_COLUMNS, signal_tables, stock_record

_STOCK_FIELDS: Final = ", ".join(STOCK_COLUMNS)


class Parameters(Protocol):
    """A statement's values (the backend's `queries.Parameters`)."""

    def __call__(self, value: Any) -> str: ...

    def in_list(self, values: Sequence[Any]) -> str: ...


Statement = tuple[str, Callable[..., Any]]


def _stock(query: StockQuery, slot: Slot, p: Parameters) -> Statement:
    table = signal_tables(slot)[0].name
    conditions = [f"resource_id = {p(query.resource_id)}"]
    if query.products is not None:
        conditions.append(f"product {p.in_list(query.products)}")
    return (
        f"SELECT {_STOCK_FIELDS} FROM {table} "  # noqa: S608
        f"WHERE {' AND '.join(conditions)} ORDER BY product",
        _stock_list,
    )


def _low(query: LowStockQuery, slot: Slot, p: Parameters) -> Statement:
    table = signal_tables(slot)[0].name
    conditions = ["rank IS NOT NULL"]
    if query.resource_id is not None:
        conditions.append(f"resource_id = {p(query.resource_id)}")
    if query.product is not None:
        conditions.append(f"product = {p(query.product)}")
    if query.after is not None:
        rank, resource, product = query.after
        conditions.append(
            f"(rank, resource_id, product) > ({p(rank)}, {p(resource)}, {p(product)})"
        )
    return (
        f"SELECT rank, {_STOCK_FIELDS} FROM {table} "  # noqa: S608
        f"WHERE {' AND '.join(conditions)} ORDER BY rank, resource_id, product "
        f"LIMIT {p(query.limit)}",
        _ranked,
    )


def _par_summary(_: ParSummaryQuery, slot: Slot, __: Parameters) -> Statement:
    table = signal_tables(slot)[0].name
    return (
        "SELECT resource_id, COUNT(*), COUNT(rank), COALESCE(SUM(-rank), 0) "  # noqa: S608
        f"FROM {table} WHERE target IS NOT NULL OR min IS NOT NULL "
        "GROUP BY resource_id ORDER BY resource_id",
        _summaries,
    )


def _transfers(query: TransfersQuery, slot: Slot, p: Parameters) -> Statement:
    table = signal_tables(slot)[1].name
    conditions = []
    if query.halves is not None:
        conditions.append(f"halves = {p(query.halves)}")
    if query.mismatched is not None:
        conditions.append(f"mismatched = {p(query.mismatched)}")
    if query.seen_before is not None:
        conditions.append(f"first_seen < {p(query.seen_before)}")
    if query.seen_since is not None:
        conditions.append(f"first_seen >= {p(query.seen_since)}")
    return (
        f"SELECT data FROM {table} WHERE {' AND '.join(conditions) or 'true'} "  # noqa: S608
        f"ORDER BY first_seen, code LIMIT {p(query.limit)}",
        _firsts,
    )


def _activity(query: ActivityQuery, slot: Slot, p: Parameters) -> Statement:
    table = signal_tables(slot)[2].name
    return (
        f"SELECT data FROM {table} WHERE activity_id = {p(query.activity_id)}",  # noqa: S608
        _first,
    )


def _activities_on(query: ActivitiesOnQuery, slot: Slot, p: Parameters) -> Statement:
    table = signal_tables(slot)[2].name
    conditions = [f"date = {p(query.date)}"]
    if query.resource_id is not None:
        conditions.append(f"resource_id = {p(query.resource_id)}")
    return (
        f"SELECT data FROM {table} WHERE {' AND '.join(conditions)} "  # noqa: S608
        f"ORDER BY resource_id, activity_id LIMIT {p(query.limit)}",
        _firsts,
    )


def _stock_list(rows: Sequence[Any], _: Upcast) -> Any:
    return [stock_record(row) for row in rows]


def _ranked(rows: Sequence[Any], _: Upcast) -> Any:
    return [(float(row[0]), stock_record(row[1:])) for row in rows]


def _summaries(rows: Sequence[Any], _: Upcast) -> Any:
    return [
        ParSummary(
            resource_id=row[0], levels=int(row[1]), below=int(row[2]), shortfall=float(row[3])
        )
        for row in rows
    ]


def _firsts(rows: Sequence[Any], _: Upcast) -> Any:
    return [row[0] for row in rows]


def _first(rows: Sequence[Any], _: Upcast) -> Any:
    return rows[0][0] if rows else None


SIGNAL_STATEMENTS: Final[dict[type[Any], Callable[[Any, Slot, Parameters], Statement]]] = {
    StockQuery: _stock,
    LowStockQuery: _low,
    ParSummaryQuery: _par_summary,
    TransfersQuery: _transfers,
    ActivityQuery: _activity,
    ActivitiesOnQuery: _activities_on,
}

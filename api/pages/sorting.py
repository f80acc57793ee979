"""Sorting a table's rows by one of its columns, as the column headers'
links ask (`?sort=quantity&order=desc`): the rows a page shows, sorted on the
server, so a sorted table needs no script and a live update keeps its order."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal, TypeVar

import msgspec

from adapters.store import ItemRecord
from api.pages.params import BadInput

Row = TypeVar("Row")
Order = Literal["asc", "desc"]
Key = Callable[[Any], Any]


def _decimal(value: str | None) -> Decimal:
    try:
        return Decimal(value) if value else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def _text(value: str | None) -> str:
    return (value or "").casefold()


def _time(value: datetime | None) -> float:
    return value.timestamp() if value is not None else float("-inf")


ITEM_COLUMNS: Final[Mapping[str, Key]] = {
    "product": lambda i: (_text(i.product_number or i.inventory_type), i.key),
    "item": lambda i: (_text(i.serial_number or i.product_number or i.key), i.key),
    "quantity": lambda i: (_decimal(i.quantity), i.key),
    "pool": lambda i: (_text(i.pool), i.key),
    "technician": lambda i: (_text(i.resource_id), i.key),
    "activity": lambda i: (_text(i.activity_id), i.key),
    "customer": lambda i: (_text(i.customer_number), i.key),
    "source": lambda i: (i.source, i.key),
    "updated": lambda i: (_time(i.updated_at), i.key),
}
"""How items sort by each column of their tables."""

FLEET_COLUMNS: Final[Mapping[str, Key]] = {
    "owner": lambda f: _text(f.owner),
    "lines": lambda f: (f.lines, _text(f.owner)),
    "negative": lambda f: (f.negative, _text(f.owner)),
    "below": lambda f: (getattr(f, "below", 0), _text(f.owner)),
    "units": lambda f: (_decimal(f.units), _text(f.owner)),
    "change": lambda f: (_time(f.last_change), _text(f.owner)),
}
"""How the fleet's lines sort by each column."""


class Sorting(msgspec.Struct, frozen=True):
    column: str
    order: Order

    def header(self, column: str) -> tuple[str, str]:
        """The `aria-sort` of a column's header and the order its link asks for."""
        if column != self.column:
            return "none", "asc"
        if self.order == "asc":
            return "ascending", "desc"
        return "descending", "asc"


def read(sort: str | None, order: str | None, columns: Mapping[str, Key], default: str) -> Sorting:
    """The column and order a page's parameters ask for (a 400 naming the
    parameter for a column the table does not have)."""
    column = sort or default
    if column not in columns:
        raise BadInput("sort", f"must be one of {', '.join(columns)}")
    if order not in (None, "", "asc", "desc"):
        raise BadInput("order", "must be asc or desc")
    return Sorting(column, "desc" if order == "desc" else "asc")


def apply(rows: Sequence[Row], sorting: Sorting, columns: Mapping[str, Key]) -> list[Row]:
    return sorted(rows, key=columns[sorting.column], reverse=sorting.order == "desc")


def items(rows: Sequence[ItemRecord], sorting: Sorting) -> list[ItemRecord]:
    return apply(rows, sorting, ITEM_COLUMNS)

"""The projections' tables, one set per slot, and how their rows map to the
records the queries answer.

The items and counts tables are derived from their record structs
(`ItemRecord`, `CountRecord`): a column per field, in the fields' order, typed
from the field's type (`_TYPES`), nullable when the field may be None, narrower
where a column says so. A row of them reads back as the record by the same
order, so an item's fields are spelled once.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, Final

import msgspec
from msgspec import inspect
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeEngine

from adapters.store.records import CountRecord, ItemRecord, Slot
from adapters.store.rows import Row
from adapters.store.types import Position, UtcDateTime

ITEMS: Final = "items"
HISTORY: Final = "history"
COUNTS: Final = "counts"
"""The projections whose tables these are."""

_TYPES: Final[Mapping[type[inspect.Type], TypeEngine[Any]]] = {
    inspect.StrType: Text(),
    inspect.IntType: BigInteger(),
    inspect.BoolType: Boolean(),
    inspect.DateTimeType: UtcDateTime(),
    inspect.DictType: Text(),  # JSON text
}


def _field_type(field: inspect.Field) -> tuple[inspect.Type, bool]:
    """The field's type without annotations, and whether it may be None."""
    kind = field.type
    if isinstance(kind, inspect.Metadata):
        kind = kind.type
    if isinstance(kind, inspect.UnionType):
        others = [each for each in kind.types if not isinstance(each, inspect.NoneType)]
        return others[0], True
    return kind, False


def stored_fields(record: type[msgspec.Struct], derived: Sequence[str] = ()) -> tuple[str, ...]:
    """The fields of a record kept as columns, in order."""
    info = inspect.type_info(record)
    assert isinstance(info, inspect.StructType)
    return tuple(field.name for field in info.fields if field.name not in derived)


def columns_of(
    record: type[msgspec.Struct],
    *,
    key: str,
    types: Mapping[str, TypeEngine[Any]],
    derived: Sequence[str] = (),
) -> list[Column[Any]]:
    """A column per stored field of `record`; `types` narrows some of them."""
    info = inspect.type_info(record)
    assert isinstance(info, inspect.StructType)
    columns: list[Column[Any]] = []
    for field in info.fields:
        if field.name in derived:
            continue
        kind, optional = _field_type(field)
        column_type = types.get(field.name, _TYPES[type(kind)])
        primary = field.name == key
        columns.append(
            Column(
                field.name,
                column_type,
                primary_key=primary,
                autoincrement=False,
                nullable=optional and not primary,
            )
        )
    return columns


# ---- items -----------------------------------------------------------------------

ITEM_COLUMNS: Final = stored_fields(ItemRecord, derived=("negative",))
"""The items table's columns: `ItemRecord`'s fields but `negative`."""

OWNER_COLUMNS: Final = ("kind", "owner", "key")
"""Every owner an item has had: (owner kind, owner, item key)."""

_PROPERTIES: Final = ITEM_COLUMNS.index("properties")
_QUANTITY: Final = ITEM_COLUMNS.index("quantity")
_encode = msgspec.json.Encoder().encode
_decode_properties = msgspec.json.Decoder(dict[str, Any]).decode


def _define_items(slot: Slot) -> tuple[Table, Table]:
    metadata = MetaData()
    name = slot.table("items")
    columns = columns_of(
        ItemRecord,
        key="key",
        types={"key": String(64), "source": String(16), "pool": String(16), "position": Position},
        derived=("negative",),
    )
    items = Table(
        name,
        metadata,
        *columns,
        Index(f"{name}_resource", "resource_id", "key"),
        Index(f"{name}_activity", "activity_id", "key"),
        Index(f"{name}_customer", "customer_number", "key"),
        Index(f"{name}_serial", "serial_number"),
    )
    owners = Table(
        slot.table("item_owners"),
        metadata,
        Column("kind", String(16), primary_key=True),
        Column("owner", Text, primary_key=True),
        Column("key", String(64), primary_key=True),
    )
    return items, owners


items_tables = functools.cache(_define_items)
"""The items table and the owners table of a slot (the same objects for the
life of the process: the hot paths cache their statements by table)."""


def item_row(record: ItemRecord) -> Row:
    """The record as a row of ITEM_COLUMNS."""
    values = list(msgspec.structs.astuple(record)[: len(ITEM_COLUMNS)])
    properties = values[_PROPERTIES]
    values[_PROPERTIES] = _encode(properties).decode() if properties else "{}"
    return tuple(values)


def item_record(row: Sequence[Any]) -> ItemRecord:
    """A row of ITEM_COLUMNS as the record."""
    values = list(row)
    properties = values[_PROPERTIES]
    values[_PROPERTIES] = _decode_properties(properties) if properties != "{}" else {}
    values[-1] = bool(values[-1])  # `deleted`
    values.append(values[_QUANTITY].startswith("-"))  # `negative`
    return ItemRecord(*values)


# ---- history ---------------------------------------------------------------------

LINK_COLUMNS: Final = ("key", "position")
"""Which events touched which item."""


@functools.cache
def links_table(slot: Slot) -> Table:
    return Table(
        slot.table("item_events"),
        MetaData(),
        Column("key", String(64), primary_key=True),
        Column("position", Position, primary_key=True),
    )


# ---- counts ----------------------------------------------------------------------

COUNT_COLUMNS: Final = stored_fields(CountRecord)
"""The counts table's columns: `CountRecord`'s fields."""


@functools.cache
def counts_table(slot: Slot) -> Table:
    name = slot.table("counts")
    return Table(
        name,
        MetaData(),
        *columns_of(
            CountRecord,
            key="position",
            types={"position": Position, "ref_module": String(8), "key": String(64)},
        ),
        Index(f"{name}_location", "location", "position"),
        Index(f"{name}_time", "occurred_at", "position"),
    )


def count_row(record: CountRecord) -> Row:
    return msgspec.structs.astuple(record)


def count_record(row: Sequence[Any]) -> CountRecord:
    return CountRecord(*row)

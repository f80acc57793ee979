"""The `items` projection: the current state of every tracked item, and every
owner an item has had (so "as of" queries know where to look)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, Final

import msgspec
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    MetaData,
    String,
    Table,
    Text,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.store.schema import Position, UtcDateTime
from domain.fold import apply as fold_apply
from domain.fold import touched_keys
from domain.items import Item
from projections.base import Applied, table_name

NAME: Final = "items"
VERSION: Final = 1

OWNER_KINDS: Final = ("resource", "activity", "customer")


def items_table(version: int, metadata: MetaData) -> Table:
    name = table_name("items", version)
    return Table(
        name,
        metadata,
        Column("key", String(64), primary_key=True),
        Column("source", String(16), nullable=False),
        Column("pool", String(16)),
        Column("inventory_id", BigInteger),
        Column("inventory_type", String(255)),
        Column("product_number", String(255)),
        Column("serial_number", String(255)),
        Column("batch_number", String(255)),
        Column("quantity", Text, nullable=False),
        Column("resource_id", String(255)),
        Column("activity_id", String(255)),
        Column("customer_number", String(255)),
        Column("exchanged_inventory_id", BigInteger),
        Column("properties", Text, nullable=False),
        Column("deleted", Boolean, nullable=False),
        Column("position", Position, nullable=False),
        Column("updated_at", UtcDateTime),
        Index(f"{name}_resource", "resource_id", "key"),
        Index(f"{name}_activity", "activity_id", "key"),
        Index(f"{name}_customer", "customer_number", "key"),
    )


def owners_table(version: int, metadata: MetaData) -> Table:
    return Table(
        table_name("item_owners", version),
        metadata,
        Column("kind", String(16), primary_key=True),
        Column("owner", String(255), primary_key=True),
        Column("key", String(64), primary_key=True),
    )


def to_row(item: Item) -> dict[str, Any]:
    return {
        "key": item.key,
        "source": item.source,
        "pool": item.pool,
        "inventory_id": item.inventory_id,
        "inventory_type": item.inventory_type,
        "product_number": item.product_number,
        "serial_number": item.serial_number,
        "batch_number": item.batch_number,
        "quantity": str(item.quantity),
        "resource_id": item.resource_id,
        "activity_id": item.activity_id,
        "customer_number": item.customer_number,
        "exchanged_inventory_id": item.exchanged_inventory_id,
        "properties": msgspec.json.encode(item.properties).decode(),
        "deleted": item.deleted,
        "position": item.position,
        "updated_at": item.updated_at,
    }


def from_row(row: Any) -> Item:
    return Item(
        key=row.key,
        source=row.source,
        pool=row.pool,
        inventory_id=row.inventory_id,
        inventory_type=row.inventory_type,
        product_number=row.product_number,
        serial_number=row.serial_number,
        batch_number=row.batch_number,
        quantity=Decimal(row.quantity),
        resource_id=row.resource_id,
        activity_id=row.activity_id,
        customer_number=row.customer_number,
        exchanged_inventory_id=row.exchanged_inventory_id,
        properties=msgspec.json.decode(row.properties),
        deleted=bool(row.deleted),
        position=row.position,
        updated_at=row.updated_at,
    )


def owners_of(item: Item) -> list[dict[str, str]]:
    owners = (
        ("resource", item.resource_id),
        ("activity", item.activity_id),
        ("customer", item.customer_number),
    )
    return [{"kind": kind, "owner": owner, "key": item.key} for kind, owner in owners if owner]


class ItemsProjection:
    name = NAME
    version = VERSION

    def tables(self, version: int, metadata: MetaData) -> list[Table]:
        return [items_table(version, metadata), owners_table(version, metadata)]

    async def load(
        self, conn: AsyncConnection, version: int, keys: Iterable[str]
    ) -> dict[str, Item]:
        table = items_table(version, MetaData())
        wanted = list(set(keys))
        found: dict[str, Item] = {}
        for start in range(0, len(wanted), 500):
            query = select(table).where(table.c.key.in_(wanted[start : start + 500]))
            for row in await conn.execute(query):
                item = from_row(row)
                found[item.key] = item
        return found

    async def apply(self, conn: AsyncConnection, version: int, events: Applied) -> None:
        keys = {key for _, event in events for key in touched_keys(event)}
        state = await self.load(conn, version, keys)
        changed: dict[str, Item] = {}
        for position, event in events:
            for item in fold_apply(state, event, position):
                state[item.key] = changed[item.key] = item
        await self.save(conn, version, changed.values())

    async def save(self, conn: AsyncConnection, version: int, items: Iterable[Item]) -> None:
        items = list(items)
        rows = [to_row(item) for item in items]
        if not rows:
            return
        metadata = MetaData()
        table, owners = items_table(version, metadata), owners_table(version, metadata)
        await conn.execute(upsert(conn, table, ["key"]), rows)
        owner_rows = [owner for item in items for owner in owners_of(item)]
        if owner_rows:
            await conn.execute(insert_ignore(conn, owners), _unique(owner_rows))


def _unique(rows: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    return list({(r["kind"], r["owner"], r["key"]): r for r in rows}.values())


def upsert(conn: AsyncConnection, table: Table, keys: list[str]) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    columns = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys}
    return statement.on_conflict_do_update(index_elements=keys, set_=columns)


def insert_ignore(conn: AsyncConnection, table: Table) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()

"""The `items` projection: the current state of every tracked item, and every
owner an item has had (so "as of" queries know where to look)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
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
from domain.fold import named_owners, touched_keys
from domain.items import Item
from projections.base import Applied, Slot, shared_table, table_name

NAME: Final = "items"
VERSION: Final = 1

OWNER_KINDS: Final = ("resource", "activity", "customer")


def items_table(slot: Slot, metadata: MetaData) -> Table:
    name = table_name("items", slot)
    return Table(
        name,
        metadata,
        Column("key", String(64), primary_key=True),
        Column("source", String(16), nullable=False),
        Column("pool", String(16)),
        Column("inventory_id", BigInteger),
        Column("inventory_type", Text),
        Column("product_number", Text),
        Column("serial_number", Text),
        Column("batch_number", Text),
        Column("quantity", Text, nullable=False),
        Column("resource_id", Text),
        Column("activity_id", Text),
        Column("customer_number", Text),
        Column("exchanged_inventory_id", BigInteger),
        Column("properties", Text, nullable=False),
        Column("deleted", Boolean, nullable=False),
        Column("position", Position, nullable=False),
        Column("updated_at", UtcDateTime),
        Index(f"{name}_resource", "resource_id", "key"),
        Index(f"{name}_activity", "activity_id", "key"),
        Index(f"{name}_customer", "customer_number", "key"),
    )


def owners_table(slot: Slot, metadata: MetaData) -> Table:
    return Table(
        table_name("item_owners", slot),
        metadata,
        Column("kind", String(16), primary_key=True),
        Column("owner", Text, primary_key=True),
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

    def tables(self, slot: Slot, metadata: MetaData) -> list[Table]:
        return [items_table(slot, metadata), owners_table(slot, metadata)]

    async def load(self, conn: AsyncConnection, slot: Slot, keys: Iterable[str]) -> dict[str, Item]:
        table = shared_table(items_table, slot)
        wanted = list(set(keys))
        found: dict[str, Item] = {}
        for start in range(0, len(wanted), 500):
            query = select(table).where(table.c.key.in_(wanted[start : start + 500]))
            for row in await conn.execute(query):
                item = from_row(row)
                found[item.key] = item
        return found

    async def apply(self, conn: AsyncConnection, slot: Slot, events: Applied) -> None:
        keys = {key for _, event in events for key in touched_keys(event)}
        state = await self.load(conn, slot, keys)
        changed: dict[str, Item] = {}
        owners: dict[tuple[str, str, str], dict[str, str]] = {}
        for position, event in events:
            for kind, owner, key in named_owners(event):
                owners[(kind, owner, key)] = {"kind": kind, "owner": owner, "key": key}
            for item in fold_apply(state, event, position):
                state[item.key] = changed[item.key] = item
                # Every owner an item passes through counts, also between two
                # events of one transaction, so the table does not depend on
                # how the events were batched.
                owners.update(((r["kind"], r["owner"], r["key"]), r) for r in owners_of(item))
        await self.save(conn, slot, changed.values(), list(owners.values()))

    async def save(
        self,
        conn: AsyncConnection,
        slot: Slot,
        items: Iterable[Item],
        owner_rows: Sequence[dict[str, str]] | None = None,
    ) -> None:
        """Upsert the items and record their owners (the given ones, else the
        items' own)."""
        items = list(items)
        rows = [to_row(item) for item in items]
        if not rows:
            return
        table, owners = shared_table(items_table, slot), shared_table(owners_table, slot)
        await conn.execute(upsert(conn, table, ["key"]), rows)
        if owner_rows is None:
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


# --------------------------------------------------------------------------
# Bulk reads and writes, for rebuilds: one statement per batch instead of one
# per row, COPY on PostgreSQL.

ITEM_COLUMNS: Final = (
    "key",
    "source",
    "pool",
    "inventory_id",
    "inventory_type",
    "product_number",
    "serial_number",
    "batch_number",
    "quantity",
    "resource_id",
    "activity_id",
    "customer_number",
    "exchanged_inventory_id",
    "properties",
    "deleted",
    "position",
    "updated_at",
)
"""The items table's columns, in the order of `to_record`."""

OWNER_COLUMNS: Final = ("kind", "owner", "key")

_ALL: Final = ", ".join(ITEM_COLUMNS)
_UPDATE_ALL: Final = ", ".join(f"{column} = excluded.{column}" for column in ITEM_COLUMNS[1:])

_encode_properties = msgspec.json.Encoder().encode
_decode_properties = msgspec.json.Decoder(dict[str, Any]).decode


def to_record(item: Item) -> tuple[Any, ...]:
    """The item as a row of ITEM_COLUMNS."""
    return (
        item.key,
        item.source,
        item.pool,
        item.inventory_id,
        item.inventory_type,
        item.product_number,
        item.serial_number,
        item.batch_number,
        str(item.quantity),
        item.resource_id,
        item.activity_id,
        item.customer_number,
        item.exchanged_inventory_id,
        _encode_properties(item.properties).decode() if item.properties else "{}",
        item.deleted,
        item.position,
        item.updated_at,
    )


def from_record(values: Sequence[Any]) -> Item:
    """The item stored as a row of ITEM_COLUMNS (a PostgreSQL record)."""
    (
        key,
        source,
        pool,
        inventory_id,
        inventory_type,
        product_number,
        serial_number,
        batch_number,
        quantity,
        resource_id,
        activity_id,
        customer_number,
        exchanged_inventory_id,
        properties,
        deleted,
        position,
        updated_at,
    ) = values
    return Item(
        key=key,
        source=source,
        pool=pool,
        inventory_id=inventory_id,
        inventory_type=inventory_type,
        product_number=product_number,
        serial_number=serial_number,
        batch_number=batch_number,
        quantity=Decimal(quantity),
        resource_id=resource_id,
        activity_id=activity_id,
        customer_number=customer_number,
        exchanged_inventory_id=exchanged_inventory_id,
        properties=_decode_properties(properties) if properties != "{}" else {},
        deleted=bool(deleted),
        position=position,
        updated_at=updated_at,
    )


def owner_records(item: Item) -> list[tuple[str, str, str]]:
    """The item's current owners as rows of OWNER_COLUMNS."""
    key, records = item.key, []
    if item.resource_id:
        records.append(("resource", item.resource_id, key))
    if item.activity_id:
        records.append(("activity", item.activity_id, key))
    if item.customer_number:
        records.append(("customer", item.customer_number, key))
    return records


async def driver(conn: AsyncConnection) -> Any:
    """The asyncpg connection under `conn`, inside the transaction `conn` has begun."""
    raw = await conn.get_raw_connection()
    pg = raw.driver_connection
    assert pg is not None
    if not pg.is_in_transaction():
        # SQLAlchemy's asyncpg adapter opens its transaction with the first
        # statement; a COPY through the driver must not run outside of it.
        await conn.exec_driver_sql("SELECT 1")
    return pg


def _key_list(keys: Iterable[str]) -> tuple[str, str]:
    """Keys as one text and its separator, for `string_to_array`: one parameter
    instead of an array whose every element the driver would check and encode.
    Keys are URL-safe, so the unit separator never occurs in one."""
    return "\x1f".join(keys), "\x1f"


async def load_many(conn: AsyncConnection, slot: Slot, keys: Collection[str]) -> dict[str, Item]:
    """The stored items among `keys`; one query for all of them on PostgreSQL."""
    if not keys:
        return {}
    if conn.dialect.name != "postgresql":
        return await ItemsProjection().load(conn, slot, keys)
    pg = await driver(conn)
    table = table_name("items", slot)
    columns = ", ".join(ITEM_COLUMNS)
    records = await pg.fetch(
        f"SELECT {columns} FROM {table} WHERE key = ANY(string_to_array($1, $2))",  # noqa: S608
        *_key_list(keys),
    )
    return {record[0]: from_record(record) for record in records}


async def write_many(
    conn: AsyncConnection,
    slot: Slot,
    changed: Sequence[Item],
    existing: Collection[str],
    owners: Collection[tuple[str, str, str]],
) -> None:
    """Store the changed items, replacing the rows of the keys in `existing`
    (those stored before), and record the owners (rows of OWNER_COLUMNS) that
    may be new."""
    if conn.dialect.name != "postgresql":
        owner_rows = [{"kind": kind, "owner": owner, "key": key} for kind, owner, key in owners]
        await ItemsProjection().save(conn, slot, changed, owner_rows)
        return
    if not changed:
        return
    pg = await driver(conn)
    items, item_owners = table_name("items", slot), table_name("item_owners", slot)
    # New rows are copied straight in; rows stored before go through a staging
    # table and one upsert, cheaper than deleting and copying them again.
    fresh_rows = [to_record(item) for item in changed if item.key not in existing]
    if fresh_rows:
        await pg.copy_records_to_table(items, records=fresh_rows, columns=ITEM_COLUMNS)
    stored_rows = [to_record(item) for item in changed if item.key in existing]
    if stored_rows:
        # One transaction may write several batches: the table is emptied after use.
        staged = f"staged_{items}"
        await pg.execute(f"CREATE TEMP TABLE IF NOT EXISTS {staged} (LIKE {items}) ON COMMIT DROP")
        await pg.copy_records_to_table(staged, records=stored_rows, columns=ITEM_COLUMNS)
        await pg.execute(
            f"INSERT INTO {items} ({_ALL}) SELECT {_ALL} FROM {staged} "  # noqa: S608
            f"ON CONFLICT (key) DO UPDATE SET {_UPDATE_ALL}"
        )
        await pg.execute(f"TRUNCATE {staged}")
    # An owner row exists only beside its item's row: those of new items are
    # new for sure and copied; only those of items stored before may clash.
    fresh = [owner for owner in owners if owner[2] not in existing]
    if fresh:
        await pg.copy_records_to_table(item_owners, records=fresh, columns=OWNER_COLUMNS)
    known = [owner for owner in owners if owner[2] in existing]
    if known:
        kinds, names, keys = (list(column) for column in zip(*known, strict=True))
        await pg.execute(
            f"INSERT INTO {item_owners} (kind, owner, key) "  # noqa: S608
            "SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING",
            kinds,
            names,
            keys,
        )

"""Push subscriptions kept in the store, through SQLAlchemy Core, the same on
both backends. A process delivers a subscription only while it holds its
lease (`lease_holder` until `lease_until`): taking leases is one conditional
update, so two processes never hold one at once, and a lease a killed
process held runs out and is taken by another. Every write of a delivery's
outcome names the holder and the generation it read, so it changes nothing
once the lease is lost or an admin rewound or resumed meanwhile. Every time
is given by the caller."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import Row, delete, or_, select, update
from sqlalchemy import insert as sql_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.store.feed import SUBSCRIPTION_FIELDS, SubscriptionRecord
from adapters.store.schema import subscriptions as table

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(dict[str, list[str]]).decode


def _row(record: SubscriptionRecord) -> dict[str, Any]:
    values = {name: getattr(record, name) for name in SUBSCRIPTION_FIELDS}
    values["filters"] = _encode(record.filters).decode()
    return values


def _record(row: Row[Any]) -> SubscriptionRecord:
    values = dict(row._mapping)
    values["filters"] = _decode(values["filters"])
    return SubscriptionRecord(**values)


async def add(conn: AsyncConnection, record: SubscriptionRecord) -> None:
    await conn.execute(sql_insert(table).values(**_row(record)))


async def every(conn: AsyncConnection) -> list[SubscriptionRecord]:
    rows = await conn.execute(select(table).order_by(table.c.created_at, table.c.id))
    return [_record(row) for row in rows]


async def one(conn: AsyncConnection, subscription_id: str) -> SubscriptionRecord | None:
    row = (await conn.execute(select(table).where(table.c.id == subscription_id))).first()
    return None if row is None else _record(row)


async def remove(conn: AsyncConnection, subscription_id: str) -> bool:
    result = await conn.execute(delete(table).where(table.c.id == subscription_id))
    return int(result.rowcount) > 0


async def change(
    conn: AsyncConnection,
    subscription_id: str,
    values: Mapping[str, Any],
    *,
    holder: str | None = None,
    generation: int | None = None,
) -> bool:
    """Change a subscription; only while `holder` holds its lease and it is
    at `generation`, when given. Whether it changed."""
    query = update(table).where(table.c.id == subscription_id)
    if holder is not None:
        query = query.where(table.c.lease_holder == holder)
    if generation is not None:
        query = query.where(table.c.generation == generation)
    unknown = set(values) - set(SUBSCRIPTION_FIELDS)
    if unknown:
        raise KeyError(f"not a subscription's field: {sorted(unknown)}")
    result = await conn.execute(query.values(**values))
    return int(result.rowcount) > 0


async def admin_change(
    conn: AsyncConnection, subscription_id: str, values: Mapping[str, Any]
) -> SubscriptionRecord | None:
    """An admin's change: a new generation, so a delivery under way does not
    record its outcome over it."""
    query = (
        update(table)
        .where(table.c.id == subscription_id)
        .values(**values, generation=table.c.generation + 1)
    )
    if int((await conn.execute(query)).rowcount) == 0:
        return None
    return await one(conn, subscription_id)


async def lease(
    conn: AsyncConnection, holder: str, now: datetime, until: datetime
) -> list[SubscriptionRecord]:
    """Take (or keep) the lease of every subscription that is not parked and
    whose lease is free, run out or ours; the subscriptions this holder
    leases now."""
    await conn.execute(
        update(table)
        .where(
            table.c.state != "parked",
            or_(
                table.c.lease_holder.is_(None),
                table.c.lease_holder == holder,
                table.c.lease_until < now,
            ),
        )
        .values(lease_holder=holder, lease_until=until)
    )
    rows = await conn.execute(
        select(table)
        .where(
            table.c.lease_holder == holder,
            table.c.lease_until >= now,
            table.c.state != "parked",
        )
        .order_by(table.c.id)
    )
    return [_record(row) for row in rows]


async def release(conn: AsyncConnection, holder: str) -> None:
    await conn.execute(
        update(table)
        .where(table.c.lease_holder == holder)
        .values(lease_holder=None, lease_until=None)
    )

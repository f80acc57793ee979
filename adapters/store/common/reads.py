"""Reads off the hot paths, through SQLAlchemy Core, the same on both
backends: events by position or stream, the inbox, cursors and deliveries per
minute. And how a stored event reads back (`stored_event`), for every read of
events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import Row as SqlRow
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.store.records import Cursor, InboxRecord, InboxStatus, Received, StoredEvent, Upcast
from adapters.store.routing import routing_keys
from adapters.store.schema import EVENT_COLUMNS, cursors, events, inbox, inbox_minutes

_decode = msgspec.json.decode


def stored_event(row: Sequence[Any], upcast: Upcast) -> StoredEvent:
    """A row of the events table's columns (EVENT_COLUMNS) as it reads back:
    its data lifted to the current shape of its type."""
    position, stream_id, version, kind, schema, data, meta, at, recorded, key, inbox_id, keys = row
    lifted, schema_version = upcast(kind, schema, _decode(data))
    return StoredEvent(
        position=position,
        stream_id=stream_id,
        version=version,
        type=kind,
        schema_version=schema_version,
        data=lifted,
        metadata=_decode(meta),
        occurred_at=at,
        recorded_at=recorded,
        dedupe_key=key,
        inbox_id=inbox_id,
        routing=routing_keys(keys),
    )


def _all_events() -> Select[Any]:
    return select(*(events.c[name] for name in EVENT_COLUMNS))


def events_after(after: int, limit: int) -> Select[Any]:
    return _all_events().where(events.c.position > after).order_by(events.c.position).limit(limit)


def events_of_stream(
    stream_id: str, to_position: int | None, to_time: datetime | None
) -> Select[Any]:
    query = _all_events().where(events.c.stream_id == stream_id)
    if to_position is not None:
        query = query.where(events.c.position <= to_position)
    if to_time is not None:
        query = query.where(events.c.occurred_at <= to_time)
    return query.order_by(events.c.position)


def events_at(positions: Sequence[int]) -> Select[Any]:
    return _all_events().where(events.c.position.in_(positions)).order_by(events.c.position)


async def read_events(
    conn: AsyncConnection, query: Select[Any], upcast: Upcast
) -> list[StoredEvent]:
    return [stored_event(tuple(row), upcast) for row in await conn.execute(query)]


async def head(conn: AsyncConnection) -> int:
    return int(await conn.scalar(select(func.coalesce(func.max(events.c.position), 0))) or 0)


async def count(conn: AsyncConnection, after: int = 0) -> int:
    query = select(func.count()).select_from(events)
    if after:
        query = query.where(events.c.position > after)
    return int(await conn.scalar(query) or 0)


async def inbox_entry(conn: AsyncConnection, inbox_id: int) -> InboxRecord | None:
    row = (await conn.execute(select(inbox).where(inbox.c.id == inbox_id))).first()
    return None if row is None else _inbox_record(row)


async def inbox_entries(
    conn: AsyncConnection, status: InboxStatus, after: int, limit: int
) -> list[InboxRecord]:
    query = (
        select(inbox)
        .where(inbox.c.status == status, inbox.c.id > after)
        .order_by(inbox.c.id)
        .limit(limit)
    )
    return [_inbox_record(row) for row in await conn.execute(query)]


async def inbox_counts(conn: AsyncConnection) -> dict[str, int]:
    rows = await conn.execute(select(inbox.c.status, func.count()).group_by(inbox.c.status))
    return {str(status): int(found) for status, found in rows}


async def inbox_head(conn: AsyncConnection) -> int:
    return int(await conn.scalar(select(func.coalesce(func.max(inbox.c.id), 0))) or 0)


async def received_from(
    conn: AsyncConnection, sender: str, after_id: int, after_position: int
) -> Received:
    accepted_after = (inbox.c.id > after_id) & (inbox.c.status == "accepted")
    theirs = inbox.c.sender == sender
    query = select(
        select(func.count())
        .select_from(events.join(inbox, inbox.c.id == events.c.inbox_id))
        .where(events.c.position > after_position, inbox.c.id > after_id, theirs)
        .scalar_subquery(),
        select(func.count()).select_from(inbox).where(accepted_after, theirs).scalar_subquery(),
        select(func.count())
        .select_from(inbox)
        .where(accepted_after, inbox.c.sender.is_(None) | (inbox.c.sender != sender))
        .scalar_subquery(),
    )
    found, accepted, others = (await conn.execute(query)).one()
    return Received(events=int(found), accepted=int(accepted), others=int(others))


async def received_per_minute(conn: AsyncConnection, since: datetime) -> dict[datetime, int]:
    query = select(inbox_minutes).where(inbox_minutes.c.minute >= since)
    return {row.minute: int(row.received) for row in await conn.execute(query)}


async def cursor(conn: AsyncConnection, name: str) -> Cursor | None:
    row = (await conn.execute(select(cursors).where(cursors.c.name == name))).first()
    return None if row is None else Cursor(name=row.name, state=_decode(row.state))


async def cursors_named(conn: AsyncConnection, prefix: str) -> list[Cursor]:
    """Every saved cursor whose name starts with `prefix`, by name."""
    query = (
        select(cursors)
        .where(func.substr(cursors.c.name, 1, len(prefix)) == prefix)
        .order_by(cursors.c.name)
    )
    return [Cursor(name=row.name, state=_decode(row.state)) for row in await conn.execute(query)]


def _inbox_record(row: SqlRow[Any]) -> InboxRecord:
    return InboxRecord(
        id=row.id,
        source=row.source,
        kind=row.kind,
        message_id=row.message_id,
        body=bytes(row.body),
        content_type=row.content_type,
        headers=_decode(row.headers),
        sender=row.sender,
        received_at=row.received_at,
        status=row.status,
        reason=row.reason,
        received_count=row.received_count,
        last_received_at=row.last_received_at,
    )

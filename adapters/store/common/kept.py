"""Kept payloads read a part at a time: a page of them with only the first
bytes of each body (cut by the database, so a page of megabyte bodies costs
what it shows), and one body in pieces for a download. Memory stays bounded
by what is shown or by one piece, whatever the bodies weigh. Through
SQLAlchemy Core, the same on both backends."""

from __future__ import annotations

from typing import Any

from sqlalchemy import LargeBinary, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.store.records import InboxStatus, KeptPayload
from adapters.store.schema import inbox


async def kept_payloads(
    conn: AsyncConnection, status: InboxStatus, *, after: int, limit: int, head: int
) -> list[KeptPayload]:
    """Up to `limit` payloads with a status, after an id, in id order, each
    with at most `head` bytes of its body."""
    query = (
        select(
            inbox.c.id,
            inbox.c.source,
            inbox.c.kind,
            inbox.c.message_id,
            inbox.c.content_type,
            inbox.c.sender,
            inbox.c.received_at,
            inbox.c.status,
            inbox.c.reason,
            inbox.c.received_count,
            inbox.c.last_received_at,
            func.length(inbox.c.body).label("size"),
            func.substr(inbox.c.body, 1, head, type_=LargeBinary).label("head"),
        )
        .where(inbox.c.status == status, inbox.c.id > after)
        .order_by(inbox.c.id)
        .limit(limit)
    )
    return [_payload(row) for row in await conn.execute(query)]


async def body_size(conn: AsyncConnection, inbox_id: int) -> int | None:
    """Bytes in a kept payload's body; None when there is no such payload."""
    query = select(func.length(inbox.c.body)).where(inbox.c.id == inbox_id)
    size = (await conn.execute(query)).scalar_one_or_none()
    return None if size is None else int(size)


async def body_piece(conn: AsyncConnection, inbox_id: int, start: int, size: int) -> bytes:
    """`size` bytes of a body from byte `start` (counted from 0)."""
    piece = func.substr(inbox.c.body, start + 1, size, type_=LargeBinary)
    data = (await conn.execute(select(piece).where(inbox.c.id == inbox_id))).scalar()
    return bytes(data or b"")


async def quarantine_totals(conn: AsyncConnection) -> tuple[int, int]:
    """Payloads in quarantine (each content kept once) and how often they
    came, repeats included."""
    query = select(func.count(), func.coalesce(func.sum(inbox.c.received_count), 0)).where(
        inbox.c.status == "quarantined"
    )
    payloads, received = (await conn.execute(query)).one()
    return int(payloads), int(received)


def _payload(row: Any) -> KeptPayload:
    return KeptPayload(
        id=int(row.id),
        source=row.source,
        kind=row.kind,
        message_id=row.message_id,
        content_type=row.content_type,
        sender=row.sender,
        received_at=row.received_at,
        status=row.status,
        reason=row.reason,
        received_count=int(row.received_count),
        last_received_at=row.last_received_at,
        size=int(row.size or 0),
        head=bytes(row.head or b""),
    )

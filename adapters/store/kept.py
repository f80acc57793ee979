"""Kept payloads read a part at a time: a page of them with only the first
bytes of each body (cut in SQL, so a page of megabyte bodies costs what it
shows), and one body in chunks for a download. Memory stays bounded by what
is shown or by one chunk, whatever the bodies weigh."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Final

import msgspec
from sqlalchemy import LargeBinary, func, select

from adapters.store.database import Database
from adapters.store.records import InboxStatus
from adapters.store.schema import inbox

CHUNK: Final = 64 * 1024
"""Bytes read per round trip while a body is streamed."""


class KeptPayload(msgspec.Struct, frozen=True, kw_only=True):
    """A kept payload with its size and the first bytes of its body."""

    id: int
    source: str
    kind: str
    message_id: str | None
    content_type: str | None
    sender: str | None
    received_at: datetime
    status: str
    reason: str | None
    received_count: int
    """Times this content came (it is kept once)."""
    last_received_at: datetime | None
    size: int
    """Bytes in the whole body."""
    head: bytes
    """The body's first bytes (all of it when it is short enough)."""


async def kept_payloads(
    database: Database, status: InboxStatus, *, after: int, limit: int, head: int
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
    async with database.engine.connect() as conn:
        return [_payload(row) for row in await conn.execute(query)]


async def body_size(database: Database, inbox_id: int) -> int | None:
    """Bytes in a kept payload's body; None when there is no such payload."""
    query = select(func.length(inbox.c.body)).where(inbox.c.id == inbox_id)
    async with database.engine.connect() as conn:
        size = (await conn.execute(query)).scalar_one_or_none()
    return None if size is None else int(size)


async def body_chunks(
    database: Database, inbox_id: int, size: int, chunk: int = CHUNK
) -> AsyncIterator[bytes]:
    """The first `size` bytes of a body, `chunk` bytes per read (each read
    on a connection of its own, given back between chunks)."""
    for start in range(0, size, chunk):
        piece = func.substr(inbox.c.body, start + 1, min(chunk, size - start), type_=LargeBinary)
        async with database.engine.connect() as conn:
            data = (await conn.execute(select(piece).where(inbox.c.id == inbox_id))).scalar()
        if not data:
            return
        yield bytes(data)


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

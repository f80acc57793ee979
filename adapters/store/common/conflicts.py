"""Row conflicts as operators read them: how many, newest first, one by one.
Through SQLAlchemy Core, the same on both backends (the batches write them,
`adapters.store.row_versions`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.store.records import RowConflict
from adapters.store.schema import row_conflicts


async def count(conn: AsyncConnection) -> int:
    found = await conn.scalar(select(func.count()).select_from(row_conflicts))
    return int(found or 0)


async def newest(conn: AsyncConnection, *, before: int | None, limit: int) -> list[RowConflict]:
    """Up to `limit` conflicts, newest first, below the id `before` when given."""
    query = select(row_conflicts).order_by(row_conflicts.c.id.desc()).limit(limit)
    if before is not None:
        query = query.where(row_conflicts.c.id < before)
    return [_conflict(row) for row in await conn.execute(query)]


async def one(conn: AsyncConnection, conflict_id: int) -> RowConflict | None:
    query = select(row_conflicts).where(row_conflicts.c.id == conflict_id)
    row = (await conn.execute(query)).first()
    return None if row is None else _conflict(row)


def _conflict(row: Row[Any]) -> RowConflict:
    return RowConflict(
        id=row.id,
        rowver=row.rowver,
        counted=row.counted,
        counted_inbox_id=row.counted_inbox_id,
        identity=row.identity,
        inbox_id=row.inbox_id,
        detected_at=row.detected_at,
        both_counted=bool(row.both_counted),
    )

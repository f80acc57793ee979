"""Row conflicts as operators read them: how many, newest first, one by one.
A cold path on SQLAlchemy Core (the batches write them, adapters.store.plan)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, func, select

from adapters.store.database import Database
from adapters.store.records import RowConflict
from adapters.store.schema import row_conflicts


class RowConflicts:
    """The row versions that arrived with other ledger content than they count with."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def count(self) -> int:
        async with self.database.engine.connect() as conn:
            found = await conn.scalar(select(func.count()).select_from(row_conflicts))
        return int(found or 0)

    async def newest(self, *, before: int | None = None, limit: int = 20) -> list[RowConflict]:
        """Up to `limit` conflicts, newest first, below the id `before` when given."""
        query = select(row_conflicts).order_by(row_conflicts.c.id.desc()).limit(limit)
        if before is not None:
            query = query.where(row_conflicts.c.id < before)
        async with self.database.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_conflict(row) for row in rows]

    async def get(self, conflict_id: int) -> RowConflict | None:
        query = select(row_conflicts).where(row_conflicts.c.id == conflict_id)
        async with self.database.engine.connect() as conn:
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

"""The last reconciliation run, for the dashboard's overview."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

import msgspec
from sqlalchemy import MetaData, Table, inspect, select
from sqlalchemy.ext.asyncio import AsyncConnection

RECONCILIATIONS: Final = "reconciliations"
"""The table of reconciliation runs, when the running build has one."""


class ReconciliationRun(msgspec.Struct, frozen=True, kw_only=True):
    """One comparison of invtrack's pools with a source's own view."""

    at: datetime
    compared: str
    """What was compared: the source and the owners or items it covered."""
    drifted: int
    """Items found to differ."""


_TIME_COLUMNS: Final = ("finished_at", "ran_at", "at", "time", "started_at", "created_at")
_COMPARED_COLUMNS: Final = ("compared", "scope", "target", "source")
_DRIFT_COLUMNS: Final = ("drifted", "differences", "drift_count", "differ")


def _first(table: Table, names: Sequence[str]) -> Any:
    return next((table.c[name] for name in names if name in table.c), None)


async def last_reconciliation(conn: AsyncConnection) -> ReconciliationRun | None:
    """The newest reconciliation run, or None when no run was stored (or this
    database has no table of runs). The table is looked up by name and its
    columns by their usual names, so a store without reconciliations reads
    as none."""
    names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    if RECONCILIATIONS not in names:
        return None
    table = await conn.run_sync(lambda sync: Table(RECONCILIATIONS, MetaData(), autoload_with=sync))
    at, compared, drifted = (
        _first(table, _TIME_COLUMNS),
        _first(table, _COMPARED_COLUMNS),
        _first(table, _DRIFT_COLUMNS),
    )
    if at is None:
        return None
    columns = [at, *(column for column in (compared, drifted) if column is not None)]
    row = (await conn.execute(select(*columns).order_by(at.desc()).limit(1))).first()
    if row is None:
        return None
    when = row[0] if isinstance(row[0], datetime) else datetime.fromisoformat(str(row[0]))
    return ReconciliationRun(
        at=when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC),
        compared=str(row[1]) if compared is not None else "",
        drifted=int(row[-1] or 0) if drifted is not None else 0,
    )

"""Reads for the dashboard that the event store and the item queries do not
offer: owners by name, count lines, deliveries per minute, reconciliation runs
and items found by serial number.

Plain SQLAlchemy Core on one connection, the same on SQLite and PostgreSQL.
The projection tables a read needs are passed in by the caller (it knows
which slot is active), so this module depends on the store's schema only.
Every read is bounded by a `limit` and pages by keyset: none loads a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

import msgspec
from sqlalchemy import JSON, ColumnElement, MetaData, Table, cast, func, inspect, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.store.schema import events, inbox

USAGE_TYPE: Final = "sm.StockUsageRecorded"
COUNT_MODULES: Final = ("1004", "1005")
"""ServiceMobility RefModule values of a full and a partial count."""

RECONCILIATIONS: Final = "reconciliations"
"""The table of reconciliation runs, when the running build has one."""


def _like_pattern(text: str) -> str:
    """`text` as a LIKE pattern matching it anywhere, its wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def owners(
    conn: AsyncConnection,
    owners_table: Table,
    kind: str,
    *,
    search: str | None,
    after: str | None,
    limit: int,
) -> list[str]:
    """Up to `limit` distinct owners of a kind (`resource`, `activity`,
    `customer`) whose name contains `search` (any case), in name order after
    `after`. Every owner an item ever had is listed."""
    c = owners_table.c
    query = select(c.owner).where(c.kind == kind).distinct()
    if search:
        query = query.where(c.owner.ilike(_like_pattern(search), escape="\\"))
    if after is not None:
        query = query.where(c.owner > after)
    rows = await conn.execute(query.order_by(c.owner).limit(limit))
    return [str(row[0]) for row in rows]


def _json_text(conn: AsyncConnection, column: Any, field: str) -> ColumnElement[Any]:
    """A top-level field of a JSON text column, as text."""
    if conn.dialect.name == "postgresql":
        return func.json_extract_path_text(cast(column, JSON), field)
    return func.json_extract(column, f"$.{field}")


async def count_events(
    conn: AsyncConnection,
    owners_table: Table,
    *,
    location: str | None,
    since: datetime | None,
    until: datetime | None,
    before: int | None,
    limit: int,
) -> list[Any]:
    """Stored ServiceMobility count lines (RefModule 1004 and 1005), newest
    first: rows of the events table, up to `limit`, with positions below
    `before`, event times in [since, until), at one storage location when
    `location` is given (its stock lines are the streams the owners table
    lists for it)."""
    query = select(events).where(
        events.c.type == USAGE_TYPE,
        _json_text(conn, events.c.data, "ref_module").in_(COUNT_MODULES),
    )
    if location is not None:
        o = owners_table.c
        lines = select(o.key).where(o.kind == "resource", o.owner == location)
        query = query.where(events.c.stream_id.in_(lines.scalar_subquery()))
    if since is not None:
        query = query.where(events.c.occurred_at >= since)
    if until is not None:
        query = query.where(events.c.occurred_at < until)
    if before is not None:
        query = query.where(events.c.position < before)
    rows = await conn.execute(query.order_by(events.c.position.desc()).limit(limit))
    return list(rows)


async def deliveries_per_minute(conn: AsyncConnection, since: datetime) -> dict[datetime, int]:
    """Payloads received (accepted, duplicate or quarantined) in each minute
    from `since` on, keyed by the minute's start (UTC); minutes with none are
    left out."""
    received = inbox.c.received_at
    if conn.dialect.name == "postgresql":
        minute: ColumnElement[Any] = func.date_trunc("minute", received)
    else:
        minute = func.strftime("%Y-%m-%dT%H:%M", received)
    query = select(minute.label("minute"), func.count()).where(received >= since).group_by(minute)
    counts: dict[datetime, int] = {}
    for start, count in await conn.execute(query):
        moment = start if isinstance(start, datetime) else datetime.fromisoformat(str(start))
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        counts[moment] = int(count)
    return counts


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


async def find_items(
    conn: AsyncConnection, items_table: Table, text: str, *, limit: int
) -> list[Any]:
    """Rows of the items table whose key or serial number is `text`, or whose
    OFS inventory id it is, up to `limit`, by key."""
    c = items_table.c
    matches: list[ColumnElement[bool]] = [c.key == text, c.serial_number == text]
    if text.isdigit() and len(text) < 19:
        matches.append(c.inventory_id == int(text))
    rows = await conn.execute(select(items_table).where(or_(*matches)).order_by(c.key).limit(limit))
    return list(rows)

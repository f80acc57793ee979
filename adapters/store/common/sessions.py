"""Dashboard sessions kept in the store: opened at sign-in, looked up on
every page, ended at sign-out or by an admin, on whichever process or host
the browser reaches. Rows are keyed by a hash of the session id; the id
itself only ever lives in the browser's cookie. Through SQLAlchemy Core, the
same on both backends; every time is given by the caller, so tests can move
the clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, Row, delete, func, select, update
from sqlalchemy import insert as sql_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.store.records import SessionRecord
from adapters.store.schema import dashboard_sessions as table

KEPT_AFTER_EXPIRY: Final = timedelta(days=1)
"""Ended and expired rows are kept this long past their expiry (a browser
coming back is told its session ended), then removed."""


async def open_session(conn: AsyncConnection, record: SessionRecord) -> None:
    """Keep a new session, and forget the ones long over."""
    await conn.execute(
        delete(table).where(table.c.expires_at < record.started_at - KEPT_AFTER_EXPIRY)
    )
    await conn.execute(sql_insert(table).values(**_row(record)))


async def find(conn: AsyncConnection, key: str) -> SessionRecord | None:
    """The session stored under `key`, open or not; None when there is none."""
    row = (await conn.execute(select(table).where(table.c.key == key))).first()
    return None if row is None else _record(row)


def by_key(key: str) -> ColumnElement[bool]:
    return table.c.key == key


def by_subject(subject: str) -> ColumnElement[bool]:
    return table.c.subject == subject


async def end(conn: AsyncConnection, which: ColumnElement[bool], now: datetime) -> int:
    """End the open sessions `which` names; how many were open."""
    query = (
        update(table)
        .where(which, table.c.ended_at.is_(None), table.c.expires_at > now)
        .values(ended_at=now)
    )
    return int((await conn.execute(query)).rowcount)


async def open_sessions(conn: AsyncConnection, now: datetime, limit: int) -> list[SessionRecord]:
    """Open sessions, by subject and then newest first."""
    query = (
        select(table)
        .where(table.c.ended_at.is_(None), table.c.expires_at > now)
        .order_by(table.c.subject, table.c.started_at.desc())
        .limit(limit)
    )
    return [_record(row) for row in await conn.execute(query)]


async def count_open(conn: AsyncConnection, now: datetime) -> int:
    query = (
        select(func.count())
        .select_from(table)
        .where(table.c.ended_at.is_(None), table.c.expires_at > now)
    )
    return int(await conn.scalar(query) or 0)


def _row(record: SessionRecord) -> dict[str, Any]:
    return {
        "key": record.key,
        "subject": record.subject,
        "name": record.name,
        "scopes": " ".join(record.scopes),
        "method": record.method,
        "started_at": record.started_at,
        "expires_at": record.expires_at,
        "ended_at": record.ended_at,
    }


def _record(row: Row[Any]) -> SessionRecord:
    return SessionRecord(
        key=row.key,
        subject=row.subject,
        name=row.name,
        scopes=tuple(part for part in row.scopes.split(" ") if part),
        method=row.method,
        started_at=row.started_at,
        expires_at=row.expires_at,
        ended_at=row.ended_at,
    )

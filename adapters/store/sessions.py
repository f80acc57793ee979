"""Dashboard sessions kept in the store: opened at sign-in, looked up on
every page, ended at sign-out or by an admin, on whichever process or host
the browser reaches. Rows are keyed by a hash of the session id; the id
itself only ever lives in the browser's cookie. A cold path on SQLAlchemy
Core; every time is given by the caller, so tests can move the clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

import msgspec
from sqlalchemy import Row, delete, func, select, update
from sqlalchemy import insert as sql_insert

from adapters.store.database import Database
from adapters.store.schema import dashboard_sessions as table

KEPT_AFTER_EXPIRY: Final = timedelta(days=1)
"""Ended and expired rows are kept this long past their expiry (a browser
coming back is told its session ended), then removed."""


class SessionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One dashboard session as stored."""

    key: str
    subject: str
    """Whom the session belongs to (a token's or a provider's subject; empty
    when the token named nobody): what an admin ends sessions by."""
    name: str
    """What the dashboard calls the person."""
    scopes: tuple[str, ...]
    method: str
    """`token` (a pasted token) or `sso` (the OpenID Connect provider)."""
    started_at: datetime
    expires_at: datetime
    ended_at: datetime | None = None

    def open_at(self, now: datetime) -> bool:
        return self.ended_at is None and now < self.expires_at


class SessionStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def open(self, record: SessionRecord) -> None:
        """Keep a new session, and forget the ones long over."""
        async with self.database.engine.begin() as conn:
            await conn.execute(
                delete(table).where(table.c.expires_at < record.started_at - KEPT_AFTER_EXPIRY)
            )
            await conn.execute(sql_insert(table).values(**_row(record)))

    async def find(self, key: str) -> SessionRecord | None:
        """The session stored under `key`, open or not; None when there is none."""
        async with self.database.engine.connect() as conn:
            row = (await conn.execute(select(table).where(table.c.key == key))).first()
        return None if row is None else _record(row)

    async def end(self, key: str, now: datetime) -> bool:
        """End one session; whether it was open."""
        return await self._end(table.c.key == key, now) > 0

    async def end_subject(self, subject: str, now: datetime) -> int:
        """End every open session of a subject; how many were open."""
        return await self._end(table.c.subject == subject, now)

    async def _end(self, which: Any, now: datetime) -> int:
        query = (
            update(table)
            .where(which, table.c.ended_at.is_(None), table.c.expires_at > now)
            .values(ended_at=now)
        )
        async with self.database.engine.begin() as conn:
            return int((await conn.execute(query)).rowcount)

    async def open_sessions(self, now: datetime, *, limit: int = 500) -> list[SessionRecord]:
        """Open sessions, by subject and then newest first."""
        query = (
            select(table)
            .where(table.c.ended_at.is_(None), table.c.expires_at > now)
            .order_by(table.c.subject, table.c.started_at.desc())
            .limit(limit)
        )
        async with self.database.engine.connect() as conn:
            return [_record(row) for row in await conn.execute(query)]

    async def count_open(self, now: datetime) -> int:
        query = (
            select(func.count())
            .select_from(table)
            .where(table.c.ended_at.is_(None), table.c.expires_at > now)
        )
        async with self.database.engine.connect() as conn:
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

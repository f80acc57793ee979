"""The event store on SQLAlchemy Core: one code path for SQLite and PostgreSQL.

Appends are serialised: a write transaction takes the append lock first (an
advisory transaction lock on PostgreSQL, BEGIN IMMEDIATE on SQLite) and keeps it
until commit. Positions therefore become visible in position order, so a reader
of `position > checkpoint` never steps over an event that commits later with a
lower position, and two events for one item are applied in store order.
Throughput comes from putting many deliveries in one transaction, not from
concurrent writers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.store.database import Database
from adapters.store.errors import ConcurrencyConflict
from adapters.store.records import (
    Cursor,
    InboxEntry,
    InboxRecord,
    InboxStatus,
    NewEvent,
    StoredEvent,
)
from adapters.store.schema import cursors, events, inbox, streams
from adapters.store.sql import chunks_of, one_of
from domain.upcasters import upcast

APPEND_LOCK = 7_220_002
"""Advisory lock id held by every write transaction on PostgreSQL."""

Upcast = Callable[[str, int, dict[str, Any]], tuple[dict[str, Any], int]]

_encode = msgspec.json.encode
_decode = msgspec.json.decode


def now() -> datetime:
    return datetime.now(UTC)


class EventStore:
    """Appends facts and reads them back, in order, upcast to their current shape."""

    def __init__(self, database: Database, upcaster: Upcast = upcast) -> None:
        self.database = database
        self.upcast = upcaster
        self._write_engine = database.engine.execution_options(sqlite_immediate=True)

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[Writer]:
        """One write transaction holding the append lock; commits on success."""
        async with self._write_engine.begin() as conn:
            if self.database.is_postgres:
                await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({APPEND_LOCK})")
            yield Writer(conn, self)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        async with self.database.engine.connect() as conn:
            yield conn

    async def read_stream(
        self,
        stream_id: str,
        *,
        to_position: int | None = None,
        to_time: datetime | None = None,
    ) -> list[StoredEvent]:
        """A stream's events in order, optionally up to a position or an event time."""
        query = select(events).where(events.c.stream_id == stream_id)
        if to_position is not None:
            query = query.where(events.c.position <= to_position)
        if to_time is not None:
            query = query.where(events.c.occurred_at <= to_time)
        async with self.reading() as conn:
            rows = (await conn.execute(query.order_by(events.c.position))).all()
        return [self.to_stored(row) for row in rows]

    async def read_all(self, after: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Up to `limit` events with position > `after`, in position order."""
        query = (
            select(events).where(events.c.position > after).order_by(events.c.position).limit(limit)
        )
        async with self.reading() as conn:
            rows = (await conn.execute(query)).all()
        return [self.to_stored(row) for row in rows]

    async def read_positions(self, positions: Sequence[int]) -> list[StoredEvent]:
        """The events at the given positions, in position order."""
        if not positions:
            return []
        query = select(events).where(events.c.position.in_(positions)).order_by(events.c.position)
        async with self.reading() as conn:
            rows = (await conn.execute(query)).all()
        return [self.to_stored(row) for row in rows]

    async def head(self) -> int:
        """The highest position stored, 0 for an empty store."""
        async with self.reading() as conn:
            value = await conn.scalar(select(func.coalesce(func.max(events.c.position), 0)))
        return int(value or 0)

    async def count(self) -> int:
        async with self.reading() as conn:
            return int(await conn.scalar(select(func.count()).select_from(events)) or 0)

    async def inbox_entry(self, inbox_id: int) -> InboxRecord | None:
        async with self.reading() as conn:
            row = (await conn.execute(select(inbox).where(inbox.c.id == inbox_id))).first()
        return None if row is None else _inbox_record(row)

    async def inbox_entries(
        self, status: InboxStatus, *, after: int = 0, limit: int = 100
    ) -> list[InboxRecord]:
        query = (
            select(inbox)
            .where(inbox.c.status == status, inbox.c.id > after)
            .order_by(inbox.c.id)
            .limit(limit)
        )
        async with self.reading() as conn:
            rows = (await conn.execute(query)).all()
        return [_inbox_record(row) for row in rows]

    async def inbox_counts(self) -> dict[str, int]:
        query = select(inbox.c.status, func.count()).group_by(inbox.c.status)
        async with self.reading() as conn:
            rows = (await conn.execute(query)).all()
        return {str(status): int(count) for status, count in rows}

    async def cursor(self, name: str) -> Cursor | None:
        """A puller's saved position, None before its first page."""
        async with self.reading() as conn:
            row = (await conn.execute(select(cursors).where(cursors.c.name == name))).first()
        if row is None:
            return None
        return Cursor(name=row.name, state=_decode(row.state))

    def to_stored(self, row: Row[Any]) -> StoredEvent:
        data, schema_version = self.upcast(row.type, row.schema_version, _decode(row.data))
        return StoredEvent(
            position=row.position,
            stream_id=row.stream_id,
            version=row.version,
            type=row.type,
            schema_version=schema_version,
            data=data,
            metadata=_decode(row.metadata),
            occurred_at=row.occurred_at,
            recorded_at=row.recorded_at,
            dedupe_key=row.dedupe_key,
            inbox_id=row.inbox_id,
        )


class Writer:
    """What a write transaction can do. Everything commits together or not at all."""

    def __init__(self, conn: AsyncConnection, store: EventStore) -> None:
        self.conn = conn
        self.store = store

    async def receive(self, entry: InboxEntry) -> int | None:
        """Keep an accepted payload; None when its message id was accepted before."""
        return (await self.receive_many([entry]))[0]

    async def receive_many(self, entries: Sequence[InboxEntry]) -> list[int | None]:
        """Keep accepted payloads, in order; None for each whose (source, message
        id) was accepted before, earlier in the store or earlier in `entries`."""
        seen = await self.accepted_ids(
            (entry.source, entry.message_id) for entry in entries if entry.message_id is not None
        )
        keep: list[int] = []
        for index, entry in enumerate(entries):
            if entry.message_id is not None:
                if (entry.source, entry.message_id) in seen:
                    continue
                seen.add((entry.source, entry.message_id))
            keep.append(index)
        ids = await self.keep([(entries[index], "accepted", None) for index in keep])
        result: list[int | None] = [None] * len(entries)
        for index, inbox_id in zip(keep, ids, strict=True):
            result[index] = inbox_id
        return result

    async def accepted_ids(self, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which (source, message id) pairs are already accepted."""
        by_source: dict[str, list[str]] = {}
        for source, message_id in set(pairs):
            by_source.setdefault(source, []).append(message_id)
        found: set[tuple[str, str]] = set()
        for source, message_ids in by_source.items():
            for chunk in chunks_of(self.conn, message_ids):
                # One source per query, so the message ids are an index condition.
                rows = await self.conn.execute(
                    select(inbox.c.message_id).where(
                        inbox.c.source == source,
                        one_of(self.conn, inbox.c.message_id, chunk),
                        inbox.c.status == "accepted",
                    )
                )
                found.update((source, row[0]) for row in rows)
        return found

    async def quarantine(self, entry: InboxEntry, reason: str) -> int:
        """Keep a payload that could not be translated, with the reason."""
        return (await self.keep([(entry, "quarantined", reason)]))[0]

    async def settle(self, inbox_id: int, status: InboxStatus, reason: str | None = None) -> None:
        """Change a kept payload's status (a quarantined one replayed, say)."""
        await self.conn.execute(
            update(inbox).where(inbox.c.id == inbox_id).values(status=status, reason=reason)
        )

    async def keep(
        self, entries: Sequence[tuple[InboxEntry, InboxStatus, str | None]]
    ) -> list[int]:
        """Insert inbox rows as they are (status and reason given); their ids, in order."""
        if not entries:
            return []
        rows = [
            {
                "source": entry.source,
                "kind": entry.kind,
                "message_id": entry.message_id,
                "content_type": entry.content_type,
                "headers": _encode(entry.headers).decode(),
                "body": entry.body,
                "sender": entry.sender,
                "received_at": entry.received_at,
                "status": status,
                "reason": reason,
            }
            for entry, status, reason in entries
        ]
        result = await self.conn.execute(
            insert(inbox).returning(inbox.c.id, sort_by_parameter_order=True), rows
        )
        return [int(row[0]) for row in result]

    async def save_cursor(self, cursor: Cursor) -> None:
        values = {"state": _encode(cursor.state).decode(), "updated_at": now()}
        updated = await self.conn.execute(
            update(cursors).where(cursors.c.name == cursor.name).values(**values)
        )
        if updated.rowcount == 0:
            await self.conn.execute(insert(cursors).values(name=cursor.name, **values))

    async def known(self, dedupe_keys: Iterable[str]) -> set[str]:
        """Which of these dedupe keys are already stored."""
        keys = list(set(dedupe_keys))
        stored: set[str] = set()
        for chunk in chunks_of(self.conn, keys):
            rows = await self.conn.execute(
                select(events.c.dedupe_key).where(one_of(self.conn, events.c.dedupe_key, chunk))
            )
            stored.update(row[0] for row in rows)
        return stored

    async def append(
        self,
        new: Sequence[NewEvent],
        *,
        inbox_id: int | None = None,
        unseen: bool = False,
    ) -> list[StoredEvent]:
        """Append the events whose dedupe key is new, in order; the others are
        duplicates and are skipped. Raises ConcurrencyConflict, appending nothing,
        when an event's expected version is stale. `unseen` says the caller has
        already dropped the keys `known` reports, in this transaction."""
        seen = set() if unseen else await self.known(event.dedupe_key for event in new)
        fresh: list[NewEvent] = []
        for event in new:
            if event.dedupe_key not in seen:
                seen.add(event.dedupe_key)
                fresh.append(event)
        if not fresh:
            return []
        heads = await self._stream_versions({event.stream_id for event in fresh})
        versions = dict(heads)
        recorded_at = now()
        rows: list[dict[str, Any]] = []
        for event in fresh:
            current = versions.get(event.stream_id, 0)
            if event.expected_version is not None and event.expected_version != current:
                raise ConcurrencyConflict(event.stream_id, event.expected_version, current)
            versions[event.stream_id] = current + 1
            rows.append(
                {
                    "stream_id": event.stream_id,
                    "version": current + 1,
                    "type": event.type,
                    "schema_version": event.schema_version,
                    "data": _encode(event.data).decode(),
                    "metadata": _encode(event.metadata).decode(),
                    "occurred_at": event.occurred_at,
                    "recorded_at": recorded_at,
                    "dedupe_key": event.dedupe_key,
                    "inbox_id": event.inbox_id if event.inbox_id is not None else inbox_id,
                }
            )
        result = await self.conn.execute(
            insert(events).returning(events.c.position, sort_by_parameter_order=True), rows
        )
        await self._advance_streams(heads, versions)
        positions = [int(row[0]) for row in result]
        return [
            StoredEvent(
                position=position,
                stream_id=row["stream_id"],
                version=row["version"],
                type=row["type"],
                schema_version=row["schema_version"],
                data=event.data,
                metadata=event.metadata,
                occurred_at=_utc(event.occurred_at),
                recorded_at=recorded_at,
                dedupe_key=row["dedupe_key"],
                inbox_id=row["inbox_id"],
            )
            for position, row, event in zip(positions, rows, fresh, strict=True)
        ]

    async def _stream_versions(self, stream_ids: set[str]) -> dict[str, int]:
        versions: dict[str, int] = {}
        ids = list(stream_ids)
        for chunk in chunks_of(self.conn, ids):
            query = select(streams.c.stream_id, streams.c.version).where(
                one_of(self.conn, streams.c.stream_id, chunk)
            )
            for stream_id, version in await self.conn.execute(query):
                versions[stream_id] = int(version)
        return versions

    async def _advance_streams(self, before: dict[str, int], after: dict[str, int]) -> None:
        """Move the stream heads from `before` to `after` (new streams are inserted)."""
        moved = [
            {"stream_id": stream_id, "version": version}
            for stream_id, version in after.items()
            if before.get(stream_id) != version
        ]
        if not moved:
            return
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(streams)
        await self.conn.execute(
            statement.on_conflict_do_update(
                index_elements=["stream_id"], set_={"version": statement.excluded.version}
            ),
            moved,
        )


def _utc(moment: datetime) -> datetime:
    """The moment as the store reads it back: timezone-aware UTC, naive taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _inbox_record(row: Row[Any]) -> InboxRecord:
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
    )

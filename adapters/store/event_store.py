"""The event store: the only way into the inbox, the events, the stream heads,
the cursors and the projection registry.

Appends are serialised: a write transaction takes the append lock first (an
advisory transaction lock on PostgreSQL, BEGIN IMMEDIATE on SQLite) and keeps it
until commit. Positions therefore become visible in position order, so a reader
of `position > checkpoint` never steps over an event that commits later with a
lower position, and two events for one item are applied in store order.
Throughput comes from putting many deliveries in one transaction (`commit`),
each in a fixed number of round trips, not from concurrent writers.

Writes and the reads that answer requests run on the raw drivers
(`adapters.store.postgres`, `adapters.store.sqlite`); the rest reads through
SQLAlchemy Core.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import Row as SqlRow
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.store import exclusive, kept, reads, registry
from adapters.store.batch import Batch, Decision
from adapters.store.database import Database
from adapters.store.maintenance import Maintenance
from adapters.store.postgres import APPEND_LOCK
from adapters.store.records import (
    Cursor,
    Delivery,
    InboxRecord,
    InboxStatus,
    NewEvent,
    Receipt,
    StoredEvent,
)
from adapters.store.registry import Registered, Slot
from adapters.store.rows import LiveProjection, Lookup, Row
from adapters.store.schema import cursors, events, inbox, inbox_minutes
from domain.upcasters import upcast

Upcast = Callable[[str, int, dict[str, Any]], tuple[dict[str, Any], int]]

_decode = msgspec.json.decode


class EventStore:
    """Appends facts with their projections and reads them back, in order,
    upcast to their current shape. `projection` folds what is appended into
    the active projections, in the same transaction; a store opened without it
    can read, but cannot append while projections are active."""

    def __init__(
        self,
        database: Database,
        projection: LiveProjection | None = None,
        upcaster: Upcast = upcast,
    ) -> None:
        self.database = database
        self.projection = projection
        self.upcast = upcaster

    # ---- writing -------------------------------------------------------------

    async def commit(self, deliveries: Sequence[Delivery]) -> list[Receipt]:
        """Commit the deliveries in one transaction, in order; what each did."""
        return (await self._commit(Batch(deliveries=deliveries))).receipts

    async def append(self, new: Sequence[NewEvent]) -> list[StoredEvent]:
        """Append the events whose dedupe key is new, in order; the others are
        duplicates and are skipped. Raises ConcurrencyConflict, appending
        nothing, when an event's expected version is stale."""
        return (await self._commit(Batch(events=new))).appended()

    async def _commit(self, batch: Batch) -> Decision:
        if self.database.is_postgres:
            return await self.database.writer.commit(batch, self.projection)
        return await self.database.sqlite.commit(batch, self.projection)

    @asynccontextmanager
    async def maintaining(
        self, *, locked: bool = False, durable: bool = True, wait: float | None = None
    ) -> AsyncIterator[Maintenance]:
        """A maintenance transaction (setting up, filling and switching
        projections). `locked` holds the append lock, waiting at most `wait`
        seconds for it (the busy timeout by default); without `durable` a
        commit on PostgreSQL does not wait for the disk (a rebuild's batches:
        one lost in a crash is lost with its checkpoint and written again)."""
        writing = self.database.engine.execution_options(sqlite_immediate=True)
        async with writing.begin() as conn:
            if self.database.is_postgres:
                if locked:
                    timeout = int((wait or self.database.busy_seconds) * 1000)
                    await conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{timeout}ms'")
                    await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({APPEND_LOCK})")
                if not durable:
                    await conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
            yield Maintenance(conn)

    async def writable(self, wait: float = 1.0) -> bool:
        """Whether the append lock can be had within `wait` seconds."""
        try:
            async with self.maintaining(locked=True, wait=wait):
                return True
        except Exception:  # any failure to take the lock means not writable now
            return False

    @asynccontextmanager
    async def exclusively(self, name: str) -> AsyncIterator[None]:
        """Hold a lock only one process of this database can hold (one rebuild
        at a time); raises AlreadyRunning when another holds it. An advisory
        session lock on PostgreSQL, a file lock beside the file on SQLite;
        both end with the process."""
        async with exclusive.held(self.database, name):
            yield

    async def wait_for_readers(self, grace: float) -> None:
        """Wait (at most `grace` seconds) until every transaction that began
        before now has ended: after a switch, before old tables are dropped."""
        await exclusive.wait_for_readers(self.database, grace)

    # ---- reading on the hot paths ---------------------------------------------

    async def look_up(self, lookup: Lookup) -> list[Row]:
        """The rows a lookup names, read outside any write transaction."""
        return await reads.look_up(self.database, lookup)

    async def read_raw(
        self, after: int, limit: int, through: int = reads.LAST
    ) -> Sequence[tuple[int, str, int, str]]:
        """Up to `limit` events after a position and up to `through` as stored:
        (position, type, schema version, JSON data), in position order."""
        return await reads.raw_events(self.database, after, limit, through)

    async def linked_events(
        self,
        guard: tuple[str, Slot],
        links: Table,
        key: str,
        *,
        after: int = 0,
        limit: int | None = None,
    ) -> list[StoredEvent] | None:
        """The events a projection's link table (key, position) ties to `key`,
        after a position, oldest first; None when `guard` (the projection and
        slot the table belongs to) is not active any more."""
        rows = await reads.events_of_key(self.database, guard, links, key, after, limit)
        return None if rows is None else [self._stored(row) for row in rows]

    async def linked_before(
        self, guard: tuple[str, Slot], links: Table, keys: Sequence[str], until: datetime
    ) -> list[tuple[str, StoredEvent]] | None:
        """(key, event) for the events linked to `keys` whose event time is at
        or before `until`, in position order; None as for `linked_events`."""
        rows = await reads.events_of_keys(self.database, guard, links, keys, until)
        return None if rows is None else [(row[0], self._stored(row[1:])) for row in rows]

    def _stored(self, row: Sequence[Any]) -> StoredEvent:
        position, stream_id, version, kind, schema, data, meta, at, recorded, key, inbox_id = row
        lifted, schema_version = self.upcast(kind, schema, _decode(data))
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
        )

    # ---- reading ---------------------------------------------------------------

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
        return await self._events(query.order_by(events.c.position))

    async def read_all(self, after: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Up to `limit` events with position > `after`, in position order."""
        query = (
            select(events).where(events.c.position > after).order_by(events.c.position).limit(limit)
        )
        return await self._events(query)

    async def read_positions(self, positions: Sequence[int]) -> list[StoredEvent]:
        """The events at the given positions, in position order."""
        if not positions:
            return []
        query = select(events).where(events.c.position.in_(positions)).order_by(events.c.position)
        return await self._events(query)

    async def _events(self, query: Any) -> list[StoredEvent]:
        async with self.reading() as conn:
            rows = (await conn.execute(query)).all()
        return [self.to_stored(row) for row in rows]

    async def active_slots(self) -> dict[str, Slot]:
        """The slot of each projection that is served and kept live."""
        async with self.reading() as conn:
            return await registry.active_slots(conn)

    async def registered(self) -> list[Registered]:
        """Every slot of every projection, with its state and checkpoint."""
        async with self.reading() as conn:
            return await registry.registered(conn)

    async def count_after(self, position: int) -> int:
        """How many events are stored after a position."""
        query = select(func.count()).select_from(events).where(events.c.position > position)
        async with self.reading() as conn:
            return int(await conn.scalar(query) or 0)

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

    async def kept_payloads(
        self, status: InboxStatus, *, after: int = 0, limit: int = 100, head: int
    ) -> list[kept.KeptPayload]:
        """Payloads with a status, each with its size and only its first
        `head` bytes (cut by the database, not here)."""
        return await kept.kept_payloads(self.database, status, after=after, limit=limit, head=head)

    async def body_size(self, inbox_id: int) -> int | None:
        """Bytes in a kept payload's body; None for an unknown id."""
        return await kept.body_size(self.database, inbox_id)

    def body_chunks(self, inbox_id: int, size: int) -> AsyncIterator[bytes]:
        """A kept body, a chunk at a time, for streaming it out."""
        return kept.body_chunks(self.database, inbox_id, size)

    async def received_per_minute(self, since: datetime) -> dict[datetime, int]:
        """Payloads received in each minute from `since` on, keyed by the
        minute's start (UTC); minutes with none are left out."""
        query = select(inbox_minutes).where(inbox_minutes.c.minute >= since)
        async with self.reading() as conn:
            return {row.minute: int(row.received) for row in await conn.execute(query)}

    async def inbox_counts(self) -> dict[str, int]:
        query = select(inbox.c.status, func.count()).group_by(inbox.c.status)
        async with self.reading() as conn:
            rows = (await conn.execute(query)).all()
        return {str(status): int(count) for status, count in rows}

    async def quarantine_totals(self) -> tuple[int, int]:
        """Payloads in quarantine (each content kept once) and how often they
        came, repeats included."""
        query = select(func.count(), func.coalesce(func.sum(inbox.c.received_count), 0)).where(
            inbox.c.status == "quarantined"
        )
        async with self.reading() as conn:
            payloads, received = (await conn.execute(query)).one()
        return int(payloads), int(received)

    async def cursor(self, name: str) -> Cursor | None:
        """A puller's saved position, None before its first page."""
        async with self.reading() as conn:
            row = (await conn.execute(select(cursors).where(cursors.c.name == name))).first()
        if row is None:
            return None
        return Cursor(name=row.name, state=_decode(row.state))

    async def cursors(self, prefix: str) -> list[Cursor]:
        """Every saved cursor whose name starts with `prefix`, by name."""
        async with self.reading() as conn:
            rows = (
                await conn.execute(
                    select(cursors)
                    .where(func.substr(cursors.c.name, 1, len(prefix)) == prefix)
                    .order_by(cursors.c.name)
                )
            ).all()
        return [Cursor(name=row.name, state=_decode(row.state)) for row in rows]

    def to_stored(self, row: SqlRow[Any]) -> StoredEvent:
        return self._stored(
            (
                row.position,
                row.stream_id,
                row.version,
                row.type,
                row.schema_version,
                row.data,
                row.metadata,
                row.occurred_at,
                row.recorded_at,
                row.dedupe_key,
                row.inbox_id,
            )
        )


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

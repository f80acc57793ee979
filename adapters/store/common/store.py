"""The part of a `Store` both backends share: writes handed as batches to the
backend's writer, maintenance transactions, the guard of the projections'
queries, and every read off the hot paths (through SQLAlchemy Core on the
backend's engine). A backend adds its writer and hot reads (`_answer`,
`read_raw`, `look_up`), its locks, its maintenance and its migrations."""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar, cast

from msgspec.structs import replace
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.store.common import conflicts as conflict_rows
from adapters.store.common import feed_fill, kept, migrating, reads, registry, sessions
from adapters.store.common import subscriptions as subscription_rows
from adapters.store.common.feed_watch import FeedWatch
from adapters.store.common.maintenance import CoreMaintenance
from adapters.store.common.reconciliations import ReconciliationLog
from adapters.store.errors import NotReady
from adapters.store.feed import FeedPage, FeedQuery, SubscriptionRecord
from adapters.store.found import Batch, Decision
from adapters.store.queries import Query
from adapters.store.records import (
    Cursor,
    Delivery,
    InboxRecord,
    InboxStatus,
    KeptPayload,
    NewEvent,
    Receipt,
    Received,
    ReconciliationSummary,
    Registered,
    RowConflict,
    SessionRecord,
    Slot,
    StoreAddress,
    StoredEvent,
    Upcast,
)
from adapters.store.rows import LiveProjection
from domain.reconciliation import Reconciliation

T = TypeVar("T")

CHUNK: int = 64 * 1024
"""Bytes read per round trip while a kept body is streamed."""

SWITCHES: int = 3
"""How often a query is asked again when its tables were switched meanwhile."""


class Switched(Exception):
    """The slot a query was given is no longer the active one."""


class BatchWriter(Protocol):
    depth: int
    """How many batches it works on at once."""

    async def commit(self, batch: Batch, projection: LiveProjection | None) -> Decision:
        """Read what the batch needs under the append lock, decide, write, commit."""
        ...


class SqlStore(ABC):
    """A store on a SQLAlchemy engine (the schema, its migrations and the cold
    paths) and a backend's raw driver (the hot paths)."""

    def __init__(
        self,
        engine: AsyncEngine,
        writer: BatchWriter,
        address: StoreAddress,
        projection: LiveProjection | None,
        upcast: Upcast,
    ) -> None:
        self.engine = engine
        self.writer = writer
        self._address = address
        self.projection = projection
        self.upcast = upcast
        self._slots: dict[str, Slot] = {}
        self._reconciliations = ReconciliationLog(engine)
        self.feed_watch = FeedWatch(self._follow_feed)

    @property
    def address(self) -> StoreAddress:
        return self._address

    # ---- writing -------------------------------------------------------------

    @property
    def batches_at_once(self) -> int:
        return self.writer.depth

    async def commit(self, deliveries: Sequence[Delivery]) -> list[Receipt]:
        decision = await self.writer.commit(Batch(deliveries=deliveries), self.projection)
        self.feed_watch.advance(decision.feed_head)
        return [replace(receipt, position=decision.head) for receipt in decision.receipts]

    async def append(self, events: Sequence[NewEvent]) -> list[StoredEvent]:
        decision = await self.writer.commit(Batch(events=events), self.projection)
        self.feed_watch.advance(decision.feed_head)
        return decision.appended()

    @contextlib.asynccontextmanager
    async def maintaining(
        self, *, locked: bool = False, durable: bool = True, wait: float | None = None
    ) -> AsyncIterator[CoreMaintenance]:
        async with self._transaction(locked=locked, durable=durable, wait=wait) as conn:
            yield self._maintenance(conn)

    @abstractmethod
    def _transaction(
        self, *, locked: bool, durable: bool, wait: float | None
    ) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        """A write transaction on the engine, holding the append lock when `locked`."""

    @abstractmethod
    def _maintenance(self, conn: AsyncConnection) -> CoreMaintenance:
        """The backend's maintenance over a transaction."""

    async def writable(self, wait: float = 1.0) -> bool:
        try:
            async with self.maintaining(locked=True, wait=wait):
                return True
        except Exception:  # any failure to take the lock means not writable now
            return False

    async def record(self, run: Reconciliation) -> Reconciliation:
        return await self._reconciliations.record(run)

    # ---- dashboard sessions --------------------------------------------------------

    async def open_session(self, record: SessionRecord) -> None:
        async with self.engine.begin() as conn:
            await sessions.open_session(conn, record)

    async def session(self, key: str) -> SessionRecord | None:
        async with self.engine.connect() as conn:
            return await sessions.find(conn, key)

    async def end_session(self, key: str, now: datetime) -> bool:
        async with self.engine.begin() as conn:
            return await sessions.end(conn, sessions.by_key(key), now) > 0

    async def end_sessions_of(self, subject: str, now: datetime) -> int:
        async with self.engine.begin() as conn:
            return await sessions.end(conn, sessions.by_subject(subject), now)

    async def open_sessions(self, now: datetime, *, limit: int = 500) -> list[SessionRecord]:
        async with self.engine.connect() as conn:
            return await sessions.open_sessions(conn, now, limit)

    async def count_open_sessions(self, now: datetime) -> int:
        async with self.engine.connect() as conn:
            return await sessions.count_open(conn, now)

    # ---- push subscriptions ----------------------------------------------------

    async def fill_feed(self) -> int:
        async with self._transaction(locked=True, durable=True, wait=None) as conn:
            if await self._feed_head() > 0:
                return 0
            filled = await conn.run_sync(feed_fill.fill)
        self.feed_watch.advance(filled)
        return filled

    async def add_subscription(self, record: SubscriptionRecord) -> None:
        async with self.engine.begin() as conn:
            await subscription_rows.add(conn, record)

    async def subscriptions(self) -> list[SubscriptionRecord]:
        async with self.engine.connect() as conn:
            return await subscription_rows.every(conn)

    async def subscription(self, subscription_id: str) -> SubscriptionRecord | None:
        async with self.engine.connect() as conn:
            return await subscription_rows.one(conn, subscription_id)

    async def delete_subscription(self, subscription_id: str) -> bool:
        async with self.engine.begin() as conn:
            return await subscription_rows.remove(conn, subscription_id)

    async def change_subscription(
        self, subscription_id: str, values: Mapping[str, Any]
    ) -> SubscriptionRecord | None:
        async with self.engine.begin() as conn:
            return await subscription_rows.admin_change(conn, subscription_id, values)

    async def record_delivery(
        self, subscription_id: str, values: Mapping[str, Any], *, holder: str, generation: int
    ) -> bool:
        async with self.engine.begin() as conn:
            return await subscription_rows.change(
                conn, subscription_id, values, holder=holder, generation=generation
            )

    async def lease_subscriptions(
        self, holder: str, now: datetime, until: datetime
    ) -> list[SubscriptionRecord]:
        async with self.engine.begin() as conn:
            return await subscription_rows.lease(conn, holder, now, until)

    async def release_subscriptions(self, holder: str) -> None:
        async with self.engine.begin() as conn:
            await subscription_rows.release(conn, holder)

    async def revision(self) -> str | None:
        async with self.engine.connect() as conn:
            return await migrating.revision(conn)

    # ---- the projections' queries ----------------------------------------------

    async def fetch(self, query: Query[T]) -> T:
        """The query on the active slot of its projection; when a switch
        happened since the slot was learnt, again on the new one."""
        name = query.projection
        for _ in range(SWITCHES):
            slot = self._slots.get(name)
            if slot is None:
                self._slots = await self.active_slots()
                slot = self._slots.get(name)
                if slot is None:
                    raise NotReady(f"the {name} projection is not set up")
            try:
                return cast(T, await self._answer(query, slot))
            except Switched:
                self._slots = {}
        raise NotReady(f"the {name} projection keeps switching")

    @abstractmethod
    async def _answer(self, query: Query[Any], slot: Slot) -> Any:
        """The query's answer from the slot's tables; raises Switched when the
        slot is no longer the active one."""

    # ---- the change feed -----------------------------------------------------------

    async def read_feed(self, query: FeedQuery) -> FeedPage:
        page = await self._read_feed(query)
        self.feed_watch.advance(page.head)
        return page

    async def wait_for_feed(self, after: int, seconds: float) -> int:
        return await self.feed_watch.wait(after, seconds)

    async def feed_head(self) -> int:
        head = await self._feed_head()
        self.feed_watch.advance(head)
        return head

    @abstractmethod
    async def _read_feed(self, query: FeedQuery) -> FeedPage:
        """Entries and the head, in one snapshot."""

    @abstractmethod
    async def _feed_head(self) -> int: ...

    @abstractmethod
    async def feed_recorded_before(self, moment: datetime) -> int: ...

    @abstractmethod
    def _follow_feed(self, watch: FeedWatch) -> None:
        """Make sure commits of other processes reach `watch` while anyone waits."""

    # ---- reading -----------------------------------------------------------------

    async def read_events(self, after: int = 0, limit: int = 1000) -> list[StoredEvent]:
        async with self.engine.connect() as conn:
            return await reads.read_events(conn, reads.events_after(after, limit), self.upcast)

    async def read_stream(
        self, stream_id: str, *, to_position: int | None = None, to_time: datetime | None = None
    ) -> list[StoredEvent]:
        query = reads.events_of_stream(stream_id, to_position, to_time)
        async with self.engine.connect() as conn:
            return await reads.read_events(conn, query, self.upcast)

    async def read_positions(self, positions: Sequence[int]) -> list[StoredEvent]:
        if not positions:
            return []
        async with self.engine.connect() as conn:
            return await reads.read_events(conn, reads.events_at(positions), self.upcast)

    async def head(self) -> int:
        async with self.engine.connect() as conn:
            return await reads.head(conn)

    async def count(self) -> int:
        async with self.engine.connect() as conn:
            return await reads.count(conn)

    async def count_after(self, position: int) -> int:
        async with self.engine.connect() as conn:
            return await reads.count(conn, after=position)

    async def active_slots(self) -> dict[str, Slot]:
        async with self.engine.connect() as conn:
            return await registry.active_slots(conn)

    async def registered(self) -> list[Registered]:
        async with self.engine.connect() as conn:
            return await registry.registered(conn)

    async def inbox_entry(self, inbox_id: int) -> InboxRecord | None:
        async with self.engine.connect() as conn:
            return await reads.inbox_entry(conn, inbox_id)

    async def inbox_entries(
        self, status: InboxStatus, *, after: int = 0, limit: int = 100
    ) -> list[InboxRecord]:
        async with self.engine.connect() as conn:
            return await reads.inbox_entries(conn, status, after, limit)

    async def inbox_counts(self) -> dict[str, int]:
        async with self.engine.connect() as conn:
            return await reads.inbox_counts(conn)

    async def inbox_head(self) -> int:
        async with self.engine.connect() as conn:
            return await reads.inbox_head(conn)

    async def received_from(self, sender: str, *, after_id: int, after_position: int) -> Received:
        async with self.engine.connect() as conn:
            return await reads.received_from(conn, sender, after_id, after_position)

    async def received_per_minute(self, since: datetime) -> dict[datetime, int]:
        async with self.engine.connect() as conn:
            return await reads.received_per_minute(conn, since)

    async def cursor(self, name: str) -> Cursor | None:
        async with self.engine.connect() as conn:
            return await reads.cursor(conn, name)

    async def reconciliations(
        self, *, before: int | None = None, limit: int = 100
    ) -> list[Reconciliation]:
        return await self._reconciliations.runs(before=before, limit=limit)

    async def reconciliation_summary(self) -> list[ReconciliationSummary]:
        return await self._reconciliations.summary()

    async def cursors(self, prefix: str) -> list[Cursor]:
        async with self.engine.connect() as conn:
            return await reads.cursors_named(conn, prefix)

    async def kept_payloads(
        self, status: InboxStatus, *, after: int = 0, limit: int = 100, head: int
    ) -> list[KeptPayload]:
        async with self.engine.connect() as conn:
            return await kept.kept_payloads(conn, status, after=after, limit=limit, head=head)

    async def body_size(self, inbox_id: int) -> int | None:
        async with self.engine.connect() as conn:
            return await kept.body_size(conn, inbox_id)

    async def body_chunks(self, inbox_id: int, size: int) -> AsyncIterator[bytes]:
        """A connection of its own for each chunk, given back between them."""
        for start in range(0, size, CHUNK):
            async with self.engine.connect() as conn:
                data = await kept.body_piece(conn, inbox_id, start, min(CHUNK, size - start))
            if not data:
                return
            yield data

    async def quarantine_totals(self) -> tuple[int, int]:
        async with self.engine.connect() as conn:
            return await kept.quarantine_totals(conn)

    async def conflict_count(self) -> int:
        async with self.engine.connect() as conn:
            return await conflict_rows.count(conn)

    async def conflicts(self, *, before: int | None = None, limit: int = 20) -> list[RowConflict]:
        async with self.engine.connect() as conn:
            return await conflict_rows.newest(conn, before=before, limit=limit)

    async def conflict(self, conflict_id: int) -> RowConflict | None:
        async with self.engine.connect() as conn:
            return await conflict_rows.one(conn, conflict_id)

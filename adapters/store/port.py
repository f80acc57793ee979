"""The store as the rest of invtrack sees it: `Store`, a reader side and a
writer side, and the `Maintenance` transactions of setting up, rebuilding and
switching projections. `connect(url)` gives one, on PostgreSQL or on SQLite.

Appends are serialised: a write transaction takes the append lock first and
keeps it until commit, so positions become visible in position order (a
reader of `position > checkpoint` never steps over an event that commits
later) and two events for one item are applied in store order. Throughput
comes from many deliveries in one transaction (`commit`), each batch in a
fixed number of round trips, not from concurrent writers.

The reader side may one day be answered by a copy of the store that lags the
primary; whatever must see the primary's latest (a puller's cursor, what a
rebuild reads and writes) is on the writer side.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Final, Protocol, TypeVar, runtime_checkable

from sqlalchemy import Table

from adapters.store.feed_port import FeedReader, FeedWriter
from adapters.store.queries import Query
from adapters.store.records import (
    Cursor,
    Delivery,
    InboxRecord,
    InboxStatus,
    KeptPayload,
    NewEvent,
    RawEvent,
    Receipt,
    Received,
    ReconciliationSummary,
    Registered,
    RowConflict,
    SessionRecord,
    Slot,
    State,
    StoreAddress,
    StoredEvent,
    Upcast,
)
from adapters.store.rows import Lookup, Row, TableWrite
from domain.reconciliation import Reconciliation

T = TypeVar("T")

LAST: Final = 2**63 - 1
"""The highest position there can be."""


@runtime_checkable
class Reader(FeedReader, Protocol):
    """Reads that may be answered a moment behind the primary."""

    upcast: Upcast
    """How this store lifts stored events to their current shape on read."""

    async def read_events(self, after: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Up to `limit` events with position > `after`, in position order."""
        ...

    async def read_stream(
        self, stream_id: str, *, to_position: int | None = None, to_time: datetime | None = None
    ) -> list[StoredEvent]:
        """A stream's events in order, optionally up to a position or an event time."""
        ...

    async def read_positions(self, positions: Sequence[int]) -> list[StoredEvent]:
        """The events at the given positions, in position order."""
        ...

    async def head(self) -> int:
        """The highest position stored, 0 for an empty store."""
        ...

    async def count(self) -> int: ...

    async def count_after(self, position: int) -> int:
        """How many events are stored after a position."""
        ...

    async def fetch(self, query: Query[T]) -> T:
        """The answer to a query of the projections (`adapters.store.queries`),
        from the tables active when it is read. Raises NotReady while the
        projection is not set up."""
        ...

    async def active_slots(self) -> dict[str, Slot]:
        """The slot of each projection that is served and kept live."""
        ...

    async def registered(self) -> list[Registered]:
        """Every slot of every projection, with its state and checkpoint."""
        ...

    async def inbox_entry(self, inbox_id: int) -> InboxRecord | None: ...

    async def inbox_entries(
        self, status: InboxStatus, *, after: int = 0, limit: int = 100
    ) -> list[InboxRecord]:
        """Kept payloads of a status, by id, after an id."""
        ...

    async def inbox_counts(self) -> dict[str, int]:
        """Kept payloads by status."""
        ...

    async def inbox_head(self) -> int:
        """The highest inbox id, 0 for an empty inbox."""
        ...

    async def received_from(self, sender: str, *, after_id: int, after_position: int) -> Received:
        """What `sender`'s payloads stored after an inbox id and an event
        position (a token's subject is its payloads' sender)."""
        ...

    async def received_per_minute(self, since: datetime) -> dict[datetime, int]:
        """Payloads received in each minute from `since` on, keyed by the
        minute's start (UTC); minutes with none are left out."""
        ...

    async def kept_payloads(
        self, status: InboxStatus, *, after: int = 0, limit: int = 100, head: int
    ) -> list[KeptPayload]:
        """Kept payloads of a status, by id, after an id, each with its size
        and only its first `head` bytes (cut by the database)."""
        ...

    async def body_size(self, inbox_id: int) -> int | None:
        """Bytes in a kept payload's body; None for an unknown id."""
        ...

    def body_chunks(self, inbox_id: int, size: int) -> AsyncIterator[bytes]:
        """The first `size` bytes of a kept body, a chunk at a time."""
        ...

    async def quarantine_totals(self) -> tuple[int, int]:
        """Payloads in quarantine (each content kept once) and how often they
        came, repeats included."""
        ...

    async def conflict_count(self) -> int:
        """Row versions recorded arriving with other content than they count with."""
        ...

    async def conflicts(self, *, before: int | None = None, limit: int = 20) -> list[RowConflict]:
        """Up to `limit` row conflicts, newest first, below the id `before`."""
        ...

    async def conflict(self, conflict_id: int) -> RowConflict | None: ...

    async def cursors(self, prefix: str) -> list[Cursor]:
        """Every saved cursor whose name starts with `prefix`, by name (what
        the pullers report of their health)."""
        ...

    async def reconciliations(
        self, *, before: int | None = None, limit: int = 100
    ) -> list[Reconciliation]:
        """Up to `limit` reconciliation runs, newest first, older than run
        `before` when given."""
        ...

    async def reconciliation_summary(self) -> list[ReconciliationSummary]:
        """Per vendor: runs with and without drift, and the newest run."""
        ...


@runtime_checkable
class DashboardSessions(Protocol):
    """Signed-in dashboard browsers. On the writer side: a session ended must
    never be found open by a reader a moment behind."""

    async def open_session(self, record: SessionRecord) -> None:
        """Keep a new session, and forget the ones long over."""
        ...

    async def session(self, key: str) -> SessionRecord | None:
        """The session stored under `key`, open or not."""
        ...

    async def end_session(self, key: str, now: datetime) -> bool:
        """End one session; whether it was open."""
        ...

    async def end_sessions_of(self, subject: str, now: datetime) -> int:
        """End every open session of a subject; how many were open."""
        ...

    async def open_sessions(self, now: datetime, *, limit: int = 500) -> list[SessionRecord]:
        """Open sessions, by subject and then newest first."""
        ...

    async def count_open_sessions(self, now: datetime) -> int: ...


@runtime_checkable
class Writer(DashboardSessions, FeedWriter, Protocol):
    """Writes, and the reads that must see every write before them."""

    @property
    def address(self) -> StoreAddress:
        """How another process opens this store."""
        ...

    @property
    def batches_at_once(self) -> int:
        """How many `commit` calls the store works on at once: 2 on
        PostgreSQL (one batch read and decided while the one before it is
        written and committed), 1 on SQLite. More calls wait their turn."""
        ...

    async def commit(self, deliveries: Sequence[Delivery]) -> list[Receipt]:
        """Commit the deliveries in one transaction, in order; what each did.
        Raises StoreBusy, writing nothing, when another writer keeps the
        append lock beyond the busy timeout."""
        ...

    async def append(self, events: Sequence[NewEvent]) -> list[StoredEvent]:
        """Append the events whose dedupe key is new, in order; the others are
        duplicates and are skipped. Raises ConcurrencyConflict, appending
        nothing, when an event's expected version is stale."""
        ...

    async def cursor(self, name: str) -> Cursor | None:
        """A puller's saved position, None before its first page."""
        ...

    async def read_raw(
        self,
        after: int,
        limit: int,
        through: int = LAST,
        *,
        data_of: Collection[str] | None = None,
    ) -> Sequence[RawEvent]:
        """Up to `limit` events after a position and up to `through`, as
        stored, for the folds. With `data_of`, an event that carries its
        routing has its data read only when its type is among those (None in
        its place otherwise): what a fold that needs only the keys of the
        others reads."""
        ...

    async def look_up(self, lookup: Lookup) -> list[Row]:
        """The rows a lookup names, read outside any write transaction."""
        ...

    def maintaining(
        self, *, locked: bool = False, durable: bool = True, wait: float | None = None
    ) -> AbstractAsyncContextManager[Maintenance]:
        """A maintenance transaction (setting up, filling and switching
        projections). `locked` holds the append lock, waiting at most `wait`
        seconds for it (the busy timeout by default); without `durable` a
        commit need not wait for the disk (a rebuild's batches: one lost in
        a crash is lost with its checkpoint and written again)."""
        ...

    async def writable(self, wait: float = 1.0) -> bool:
        """Whether the append lock can be had within `wait` seconds."""
        ...

    def exclusively(self, name: str) -> AbstractAsyncContextManager[None]:
        """Hold a lock only one process of this store can hold (one rebuild
        at a time); raises AlreadyRunning when another holds it. It ends with
        the process at the latest."""
        ...

    async def wait_for_readers(self, grace: float) -> None:
        """Wait (at most `grace` seconds) until every transaction that began
        before now has ended: after a switch, before old tables are dropped."""
        ...

    async def record(self, run: Reconciliation) -> Reconciliation:
        """Keep a reconciliation run and its differences; the run with its id."""
        ...

    async def load_history(self, batches: AsyncIterable[Sequence[StoredEvent]]) -> int:
        """Store events exactly as given (positions, versions, times), in bulk,
        and the stream heads they make; how many. For a store nothing else
        writes meanwhile, as a benchmark's generated history."""
        ...

    async def migrate(self, revision: str = "head") -> None:
        """Create or upgrade the schema to a migration, the newest by default.
        Safe when several processes start together."""
        ...

    async def revision(self) -> str | None:
        """The schema's migration, None for a store never migrated."""
        ...


@runtime_checkable
class Store(Reader, Writer, Protocol):
    """The whole store: open it with `connect(url)`, close it once. (Checkable
    at run time: the web framework checks what it injects.)"""

    async def close(self) -> None: ...


class Maintenance(Protocol):
    """One maintenance transaction (`Writer.maintaining`): its writes are
    described as `TableWrite`s like a batch's. Projection tables are created
    without the indexes a fill does not need (`create(bare=True)`) and get
    them afterwards (`finish`), which is much faster than row by row."""

    async def write(self, writes: Sequence[TableWrite], *, copy: bool = False) -> None:
        """Write the rows; with `copy`, new rows (`insert`) go in by the
        backend's fastest bulk path."""
        ...

    async def look_up(self, lookup: Lookup) -> list[Row]:
        """The rows a lookup names, as this transaction sees them."""
        ...

    async def head(self) -> int:
        """The highest position stored, as this transaction sees it."""
        ...

    async def active_slots(self) -> dict[str, Slot]: ...

    async def registered(self, names: Sequence[str] | None = None) -> list[Registered]:
        """Every slot of the named projections (all when None), by name and slot."""
        ...

    async def next_slot(self, name: str, version: int) -> Slot:
        """A slot of the version whose tables no build has used yet."""
        ...

    async def register(self, name: str, slot: Slot, state: State, position: int = 0) -> None: ...

    async def set_state(self, name: str, slot: Slot, state: State) -> None: ...

    async def checkpoint(self, name: str, slot: Slot, position: int) -> None:
        """Record that the slot has applied every event up to `position`."""
        ...

    async def create(self, tables: Sequence[Table], *, bare: bool = False) -> None:
        """Create the tables; `bare` leaves out what a fill does not need
        (secondary indexes; the primary key of tables only added to), where
        that is faster."""
        ...

    async def drop_primary_key(self, table: Table) -> None:
        """No primary key while a table is only added to, where that is faster."""
        ...

    async def finish(self, tables: Sequence[Table]) -> None:
        """The keys and indexes `create(bare=True)` left out, and the
        statistics the planner needs, before the tables are served."""
        ...

    async def drop(self, tables: Sequence[Table]) -> None:
        """Drop the tables; those already gone are skipped."""
        ...

    async def table_names(self) -> set[str]: ...

    async def rows(self, table: Table, columns: Sequence[str]) -> list[Row]:
        """Every row of a table, as tuples of `columns`, by its primary key."""
        ...

    async def empty(self, names: Collection[str]) -> None:
        """Delete every row of the named tables."""
        ...

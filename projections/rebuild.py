"""Rebuilding projections from the event store while the service keeps serving.

A rebuild fills a new slot of each projection (its new version, or a fresh
build of the version already served) from position 0, in large batches and
outside the append lock, while live appends keep going to the active slot.
Once it has caught up it takes the append lock, applies the last events, marks
the new slot active and the old one retired, and commits: the switch is one
transaction, so every event reaches the new slot exactly once. The old tables
are dropped when no reader can still be using them.

The checkpoint is the `building` row's position, committed with each batch's
rows, so an interrupted rebuild resumes where it stopped. Memory stays bounded
by the batch size: one batch of events and the items it touches (two while a
batch is written and the next one folded).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Final, Protocol

import msgspec
from sqlalchemy import MetaData, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.store import EventStore
from adapters.store.schema import events as events_table
from domain.events import DomainEvent, from_data
from domain.fold import apply as fold_apply
from domain.fold import named_owners, touched_keys
from domain.items import Item
from domain.upcasters import current_version, upcast
from projections.base import (
    Projection,
    Slot,
    active_versions,
    checkpoint,
    create_tables,
    drop_tables,
    next_slot,
    register,
    registered,
    set_state,
)
from projections.catalog import by_name
from projections.history import HistoryProjection, write_links
from projections.items import ItemsProjection, driver, load_many, owner_records, write_many

log = logging.getLogger("invtrack.rebuild")

REBUILD_LOCK: Final = 7_220_003
"""Advisory lock id held by the one rebuild that may run at a time (PostgreSQL)."""

BATCH = 20_000
"""Events per batch: large enough for bulk writes, small enough to bound memory."""

SLICE: Final = 1_000
"""Events decoded or folded between two chances for other tasks to run: a
rebuild inside the service must not hold up its requests for a whole batch."""

READER_GRACE: Final = 30.0
"""Seconds to wait after a switch for queries still reading the old tables."""

Progress = Callable[[int, int], None]
"""Told (events done, events in all) after every committed batch. An exception
raised from it stops the rebuild; running it again resumes."""

Decode = Callable[[str, int, str], DomainEvent]
Write = Callable[[AsyncConnection], Awaitable[None]]
"""Stores what a builder folded from one batch, and its checkpoint."""


class RebuildBusy(Exception):
    """Another rebuild is running on this database."""


class Rebuilt(msgspec.Struct, frozen=True, kw_only=True):
    """A projection switched to a new slot."""

    name: str
    slot: Slot
    previous: Slot | None
    position: int
    events: int
    """Events this run folded into the slot (fewer than all after a resume)."""


# --------------------------------------------------------------------------
# Reading and decoding events


_event_decoder: Final = msgspec.json.Decoder(DomainEvent)
_json_decoder: Final = msgspec.json.Decoder()


def decoder(store: EventStore) -> Decode:
    """Stored (type, schema version, JSON data) to the event in its current shape.

    Data already in its type's current version is decoded straight into the
    event union; older data goes through the store's upcasters first, as every
    other read does.
    """
    upcaster = store.upcast
    fast = upcaster is upcast

    def decode(kind: str, schema_version: int, data: str) -> DomainEvent:
        if fast and schema_version == current_version(kind):
            event: DomainEvent = _event_decoder.decode(data)
            return event
        lifted, _ = upcaster(kind, schema_version, _json_decoder.decode(data))
        return from_data(lifted)

    return decode


class Batch:
    """Events read together, in store order, with the keys each one touches."""

    __slots__ = ("events", "keys")

    def __init__(
        self, events: list[tuple[int, DomainEvent]], keys: list[tuple[str, ...]] | None = None
    ) -> None:
        self.events = events
        self.keys = keys if keys is not None else [touched_keys(event) for _, event in events]

    def __len__(self) -> int:
        return len(self.events)

    @property
    def last(self) -> int:
        return self.events[-1][0]

    def after(self, position: int) -> range:
        """Indexes of the events after a position (all but on a resume)."""
        start = 0
        while start < len(self.events) and self.events[start][0] <= position:
            start += 1
        return range(start, len(self.events))


async def read_batch(conn: AsyncConnection, decode: Decode, after: int, limit: int) -> Batch:
    """Up to `limit` events after a position, decoded."""
    rows: Sequence[Any]
    if conn.dialect.name == "postgresql":
        pg = await driver(conn)
        rows = await pg.fetch(
            "SELECT position, type, schema_version, data FROM events "
            "WHERE position > $1 ORDER BY position LIMIT $2",
            after,
            limit,
        )
    else:
        c = events_table.c
        query = (
            select(c.position, c.type, c.schema_version, c.data)
            .where(c.position > after)
            .order_by(c.position)
            .limit(limit)
        )
        rows = (await conn.execute(query)).all()
    events: list[tuple[int, DomainEvent]] = []
    keys: list[tuple[str, ...]] = []
    for start in range(0, len(rows), SLICE):
        chunk = rows[start : start + SLICE]
        try:
            decoded = [(row[0], decode(row[1], row[2], row[3])) for row in chunk]
        except (msgspec.DecodeError, LookupError) as error:
            raise ValueError(f"an event after position {after} cannot be read: {error}") from error
        events.extend(decoded)
        keys.extend(touched_keys(event) for _, event in decoded)
        await _let_others_run()
    return Batch(events, keys)


async def _let_others_run() -> None:
    await asyncio.sleep(0)


class _Prefetch:
    """Reads the next batch while the current one is folded and written."""

    def __init__(self, store: EventStore, after: int, size: int) -> None:
        self.store = store
        self.after = after
        self.size = size
        self.decode = decoder(store)
        self._next: asyncio.Task[Batch] | None = None

    async def next(self) -> Batch:
        task = self._next or asyncio.create_task(self._read(self.after))
        self._next = None
        batch = await task
        if len(batch) == self.size:
            self.after = batch.last
            self._next = asyncio.create_task(self._read(self.after))
        return batch

    async def close(self) -> None:
        if self._next is not None:
            self._next.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._next
            self._next = None

    async def _read(self, after: int) -> Batch:
        async with self.store.reading() as conn:
            return await read_batch(conn, self.decode, after, self.size)


# --------------------------------------------------------------------------
# Builders: how each projection folds a batch and writes it in bulk


class Builder(Protocol):
    """Folds batches into one slot.

    `stage` reads what the fold needs and folds in memory; the `Write` it
    returns stores the result and the checkpoint in the caller's transaction.
    Batches are staged in order and their writes committed in the same order;
    a batch may be staged while the previous one is still being written.
    """

    name: str
    slot: Slot
    position: int
    """Last position staged (the checkpoint when nothing is in flight)."""
    folded: int
    """Events folded by this builder."""

    async def stage(self, conn: AsyncConnection, batch: Batch) -> Write: ...


class ItemsBuilder:
    """The items projection: the touched items are loaded once per batch,
    folded in memory and written with COPY (PostgreSQL) or executemany."""

    def __init__(self, projection: ItemsProjection, slot: Slot, position: int) -> None:
        self.name = projection.name
        self.slot = slot
        self.position = position
        self.folded = 0
        # The items the previous batch changed: its write may not be committed
        # yet, so they are taken from here and not from the tables.
        self._recent: dict[str, Item] = {}

    async def stage(self, conn: AsyncConnection, batch: Batch) -> Write:
        indexes = batch.after(self.position)
        keys = {key for index in indexes for key in batch.keys[index]}
        recent = self._recent
        state = {key: recent[key] for key in keys if key in recent}
        state.update(await load_many(conn, self.slot, keys.difference(state)))
        existing = set(state)
        changed: dict[str, Item] = {}
        owners: set[tuple[str, str, str]] = set()
        events = batch.events
        for index in indexes:
            if index % SLICE == 0:
                await _let_others_run()
            position, event = events[index]
            owners.update(named_owners(event))
            for item in fold_apply(state, event, position):
                before = state.get(item.key)
                # Every owner an item ever had is recorded; the rows of the
                # owners it had before this batch are stored already.
                if (
                    before is None
                    or before.resource_id != item.resource_id
                    or before.activity_id != item.activity_id
                    or before.customer_number != item.customer_number
                ):
                    owners.update(owner_records(item))
                state[item.key] = changed[item.key] = item
        self._recent = changed
        self.folded += len(indexes)
        self.position = through = batch.last
        rows = list(changed.values())

        async def write(conn: AsyncConnection) -> None:
            await write_many(conn, self.slot, rows, existing, owners)
            await checkpoint(conn, self.name, self.slot, through)

        return write


class HistoryBuilder:
    """The history projection: (item, position) links, all of them new rows."""

    def __init__(self, projection: HistoryProjection, slot: Slot, position: int) -> None:
        self.name = projection.name
        self.slot = slot
        self.position = position
        self.folded = 0

    async def stage(self, conn: AsyncConnection, batch: Batch) -> Write:
        indexes = batch.after(self.position)
        events, keys = batch.events, batch.keys
        links = [(key, events[index][0]) for index in indexes for key in keys[index]]
        self.folded += len(indexes)
        self.position = through = batch.last

        async def write(conn: AsyncConnection) -> None:
            await write_links(conn, self.slot, links)
            await checkpoint(conn, self.name, self.slot, through)

        return write


class ApplyBuilder:
    """Any other projection, through its own `apply`."""

    def __init__(self, projection: Projection, slot: Slot, position: int) -> None:
        self.projection = projection
        self.name = projection.name
        self.slot = slot
        self.position = position
        self.folded = 0

    async def stage(self, conn: AsyncConnection, batch: Batch) -> Write:
        events = [batch.events[index] for index in batch.after(self.position)]
        self.folded += len(events)
        self.position = through = batch.last

        async def write(conn: AsyncConnection) -> None:
            if events:
                await self.projection.apply(conn, self.slot, events)
            await checkpoint(conn, self.name, self.slot, through)

        return write


def builder_for(projection: Projection, slot: Slot, position: int) -> Builder:
    """The fastest builder that knows the projection."""
    if isinstance(projection, ItemsProjection):
        return ItemsBuilder(projection, slot, position)
    if isinstance(projection, HistoryProjection):
        return HistoryBuilder(projection, slot, position)
    return ApplyBuilder(projection, slot, position)


async def catch_up(
    store: EventStore,
    conn: AsyncConnection,
    projection: Projection,
    slot: Slot,
    *,
    after: int = 0,
    batch_size: int | None = None,
) -> int:
    """Fold every event after `after` into the slot, in the caller's
    transaction; returns the last position folded."""
    builder = builder_for(projection, slot, after)
    decode = decoder(store)
    position = after
    while batch := await read_batch(conn, decode, position, batch_size or BATCH):
        position = batch.last
        await (await builder.stage(conn, batch))(conn)
    return position


# --------------------------------------------------------------------------
# The rebuild


async def rebuild(
    store: EventStore,
    names: Sequence[str] | None = None,
    progress: Progress | None = None,
    *,
    batch_size: int = BATCH,
    reader_grace: float = READER_GRACE,
) -> list[Rebuilt]:
    """Rebuild the named projections (all when none is named) from the full
    history into new slots and switch to them; a slot of the same version left
    by an interrupted rebuild is resumed. Raises RebuildBusy while another
    rebuild runs, KeyError for an unknown name."""
    projections = by_name(list(dict.fromkeys(names)) if names else None)
    async with _exclusive(store):
        builders, leftovers = await _start(store, projections)
        await _drop(store, leftovers)
        position = min(builder.position for builder in builders)
        meter = _Meter(progress, await _count_after(store, position))
        position = await _fill(store, builders, meter, position, batch_size)
        await _finish_tables(store, projections, builders)
        # What arrived while the indexes were built, so the switch has little left.
        position = await _fill(store, builders, meter, position, batch_size)
        switched = await _switch(store, projections, builders, meter, position, batch_size)
        await _wait_for_readers(store, reader_grace)
        await _drop(store, [(p, done.previous) for p, done in switched if done.previous])
    for _, done in switched:
        log.info(
            "projection %s switched from %s to %s at position %d",
            done.name,
            done.previous or "nothing",
            done.slot,
            done.position,
        )
    return [done for _, done in switched]


class _Meter:
    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress = progress
        self.done = 0
        self.total = total

    def advance(self, count: int) -> None:
        self.done += count
        # Events appended during the rebuild make the history longer.
        self.total = max(self.total, self.done)
        if self.progress is not None:
            self.progress(self.done, self.total)


async def _start(
    store: EventStore, projections: Sequence[Projection]
) -> tuple[list[Builder], list[tuple[Projection, Slot]]]:
    """A building slot per projection: the one of this version an earlier run
    left, or a new one. Returns their builders and the slots whose tables go."""
    builders: list[Builder] = []
    leftovers: list[tuple[Projection, Slot]] = []
    async with store.writing() as writer:
        conn = writer.conn
        rows = await registered(conn, [projection.name for projection in projections])
        for projection in projections:
            mine = [row for row in rows if row.name == projection.name]
            # A drop interrupted after an earlier switch leaves tables behind.
            leftovers.extend((projection, row.slot) for row in mine if row.state == "retired")
            building = next((row for row in mine if row.state == "building"), None)
            if building is not None and building.slot.version == projection.version:
                builders.append(builder_for(projection, building.slot, building.position))
                continue
            if building is not None:
                # Left by a rebuild of another version: of no use to this one.
                await set_state(conn, projection.name, building.slot, "retired")
                leftovers.append((projection, building.slot))
            slot = await next_slot(conn, projection.name, projection.version)
            await create_tables(conn, projection, slot)
            if store.database.is_postgres:
                await _defer_indexes(conn, projection, slot)
            await register(conn, projection.name, slot, "building")
            builders.append(builder_for(projection, slot, 0))
    return builders, leftovers


async def _fill(
    store: EventStore, builders: Sequence[Builder], meter: _Meter, position: int, batch_size: int
) -> int:
    """Fold and write batches until the history is nearly read; returns the
    position reached. A batch is folded while the previous one is written."""
    reader = _Prefetch(store, position, batch_size)
    pending: asyncio.Task[None] | None = None
    counted = 0
    try:
        while batch := await reader.next():
            async with store.reading() as conn:
                writes = [await builder.stage(conn, batch) for builder in builders]
            if pending is not None:
                await asyncio.shield(pending)
                meter.advance(counted)
            pending = asyncio.create_task(_commit(store, writes))
            position, counted = batch.last, len(batch)
            if len(batch) < batch_size:
                break
        if pending is not None:
            await asyncio.shield(pending)
            meter.advance(counted)
    finally:
        await reader.close()
        if pending is not None and not pending.done():
            # Let a batch being written commit or fail on its own: cancelling
            # a statement half-way can leave its connection unusable.
            with contextlib.suppress(Exception):
                await asyncio.shield(pending)
    return position


async def _commit(store: EventStore, writes: Sequence[Write]) -> None:
    """One batch of every builder, with their checkpoints, in one transaction.

    No append lock: only this rebuild writes a building slot. On PostgreSQL
    the commit does not wait for the WAL flush: a batch lost in a crash is
    lost with its checkpoint, and the resumed rebuild writes it again.
    """
    writing = store.database.engine.execution_options(sqlite_immediate=True)
    async with writing.begin() as conn:
        if store.database.is_postgres:
            await conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
        for write in writes:
            await write(conn)


async def _finish_tables(
    store: EventStore, projections: Sequence[Projection], builders: Sequence[Builder]
) -> None:
    """Create the keys and indexes left out while the slots filled, and gather
    the statistics the query planner needs, before the slots are served."""
    if not store.database.is_postgres:
        return
    known = {projection.name: projection for projection in projections}
    async with store.database.engine.begin() as conn:
        # Sorting for an index build is faster the more of it fits in memory.
        await conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
        for builder in builders:
            for table in known[builder.name].tables(builder.slot, MetaData()):
                has_key = await conn.scalar(
                    text(
                        "SELECT count(*) FROM pg_constraint "
                        "WHERE conrelid = CAST(:name AS regclass) AND contype = 'p'"
                    ),
                    {"name": table.name},
                )
                if not has_key:
                    columns = ", ".join(column.name for column in table.primary_key.columns)
                    await conn.exec_driver_sql(
                        f"ALTER TABLE {table.name} "
                        f"ADD CONSTRAINT {table.name}_pkey PRIMARY KEY ({columns})"
                    )
                for index in table.indexes:
                    await conn.run_sync(index.create, checkfirst=True)
                await conn.exec_driver_sql(f"ANALYZE {table.name}")


async def _defer_indexes(conn: AsyncConnection, projection: Projection, slot: Slot) -> None:
    """On PostgreSQL, leave out while the slot fills the indexes no lookup of
    the fill needs: they slow bulk writes down and are built faster in one go
    at the end. That is every index but the keys, and the key too for history,
    whose rows are only ever added."""
    for table in projection.tables(slot, MetaData()):
        for index in table.indexes:
            if not index.unique:
                await conn.run_sync(index.drop)
        if isinstance(projection, HistoryProjection):
            await conn.exec_driver_sql(
                f"ALTER TABLE {table.name} DROP CONSTRAINT IF EXISTS {table.name}_pkey"
            )


async def _switch(
    store: EventStore,
    projections: Sequence[Projection],
    builders: Sequence[Builder],
    meter: _Meter,
    position: int,
    batch_size: int,
) -> list[tuple[Projection, Rebuilt]]:
    """Under the append lock: fold the last events, make the built slots active
    and retire the ones they replace, all in one transaction."""
    known = {projection.name: projection for projection in projections}
    decode = decoder(store)
    switched: list[tuple[Projection, Rebuilt]] = []
    async with store.writing() as writer:
        conn = writer.conn
        while batch := await read_batch(conn, decode, position, batch_size):
            position = batch.last
            for builder in builders:
                await (await builder.stage(conn, batch))(conn)
            meter.advance(len(batch))
        active = await active_versions(conn)
        for builder in builders:
            previous = active.get(builder.name)
            if previous is not None:
                # Retired first: a projection has at most one active slot.
                await set_state(conn, builder.name, previous, "retired")
            await set_state(conn, builder.name, builder.slot, "active")
            await checkpoint(conn, builder.name, builder.slot, position)
            done = Rebuilt(
                name=builder.name,
                slot=builder.slot,
                previous=previous,
                position=position,
                events=builder.folded,
            )
            switched.append((known[builder.name], done))
    if meter.progress is not None:
        meter.progress(meter.done, meter.done)
    return switched


async def _count_after(store: EventStore, position: int) -> int:
    async with store.reading() as conn:
        count = await conn.scalar(
            select(func.count()).select_from(events_table).where(events_table.c.position > position)
        )
    return int(count or 0)


async def _wait_for_readers(store: EventStore, grace: float) -> None:
    """Wait (at most `grace` seconds) until every transaction that began before
    the switch has ended.

    On PostgreSQL a query reads the registry and the tables it names in
    separate statements, so one that read the old slot may still be about to
    read its tables. SQLite readers keep their snapshot, old tables included.
    """
    if not store.database.is_postgres or grace <= 0:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    async with store.reading() as conn:
        since: datetime | None = await conn.scalar(text("SELECT clock_timestamp()"))
        await conn.commit()
        while True:
            # pg_stat_activity is read once per transaction: one per look.
            older = await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND backend_type = 'client backend' AND xact_start < :since"
                ),
                {"since": since},
            )
            await conn.commit()
            if not older:
                return
            if loop.time() >= deadline:
                log.warning("dropping old projection tables with %d reader(s) still open", older)
                return
            await asyncio.sleep(0.05)


async def _drop(store: EventStore, slots: Sequence[tuple[Projection, Slot]]) -> None:
    if not slots:
        return
    writing = store.database.engine.execution_options(sqlite_immediate=True)
    async with writing.begin() as conn:
        for projection, slot in slots:
            await drop_tables(conn, projection, slot)


@asynccontextmanager
async def _exclusive(store: EventStore) -> AsyncIterator[None]:
    """Hold the rebuild lock: an advisory session lock on PostgreSQL, a file
    lock beside the database file on SQLite. Both end with the process."""
    if store.database.is_postgres:
        async with store.database.engine.connect() as conn:
            got = await conn.scalar(text("SELECT pg_try_advisory_lock(:id)"), {"id": REBUILD_LOCK})
            await conn.commit()
            if not got:
                raise RebuildBusy("another rebuild is running")
            try:
                yield
            finally:
                try:
                    await conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": REBUILD_LOCK})
                    await conn.commit()
                except BaseException:
                    # Closing the session is what releases the lock then.
                    await conn.invalidate()
                    raise
        return
    database = make_url(store.database.url).database
    if not database or database == ":memory:":
        yield
        return
    handle = _lock_file(database)
    try:
        yield
    finally:
        handle.close()


def _lock_file(database: str) -> IO[str]:
    """The SQLite rebuild lock: an exclusive lock on a file beside the database."""
    path = Path(database).expanduser().resolve()
    handle = path.with_name(path.name + ".rebuild-lock").open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise RebuildBusy("another rebuild is running") from None
    return handle

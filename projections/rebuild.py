"""Rebuilding projections from the event store while the service keeps serving.

A rebuild fills a new slot of each projection (its new version, or a fresh
build of the version already served) from position 0, in large batches and
outside the append lock, while live appends keep going to the active slot.
Each projection brings its own bulk builder (`Projection.builder`); new rows go
in with COPY on PostgreSQL, into tables that get their secondary indexes only
once they are full. Once it has caught up, the rebuild takes the append lock,
folds the last events, marks the new slot active and the old one retired, and
commits: the switch is one transaction, so every event reaches the new slot
exactly once. The old tables are dropped when no reader can still be using them.

The checkpoint is the `building` row's position, committed with each batch's
rows, so an interrupted rebuild resumes where it stopped. The history is
folded up to the position it had at the start; then the indexes are built,
the rest caught up and the slots switched. Memory stays bounded by the batch
size: one batch of events and the items it touches (two while a batch is
written and the next one folded).

A batch is read once for all the builders, and only what they fold is
decoded (`projections.reading`): each builder says which events it folds, and
an event's keys come from the store (its routing), so events a run folds
none of, or needs only the keys of, are never decoded.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Final

import msgspec

from adapters.store import AlreadyRunning, Lookup, Maintenance, Row, Slot, Store
from projections.catalog import by_name
from projections.filling import collecting_less, fill
from projections.projection import Builder, Holding, Projection
from projections.reading import Reading, decoder

log = logging.getLogger("invtrack.rebuild")

BATCH = 20_000
"""Events per batch: large enough for bulk writes, small enough to bound memory."""

READER_GRACE: Final = 30.0
"""Seconds to wait after a switch for queries still reading the old tables."""

SWITCH_WAIT: Final = 60.0
"""Seconds the switch may wait for the append lock."""

Progress = Callable[[int, int], None]
"""Told (events done, events in all) after every committed batch. An exception
raised from it stops the rebuild; running it again resumes."""


class RebuildBusy(Exception):
    """Another rebuild is running on this database."""


class Start(msgspec.Struct, frozen=True):
    """Where one projection's building slot stands: its checkpoint."""

    name: str
    slot: Slot
    position: int


class Rebuilt(msgspec.Struct, frozen=True, kw_only=True):
    """A projection switched to a new slot."""

    name: str
    slot: Slot
    previous: Slot | None
    position: int
    events: int
    """Events this run folded into the slot (fewer than all after a resume)."""


async def rebuild(
    store: Store,
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
    try:
        async with store.exclusively("rebuild"):
            try:
                with collecting_less():
                    switched = await _rebuild(
                        store, projections, progress, batch_size, reader_grace
                    )
            finally:
                for projection in projections:
                    # What a builder held for those after it (the signals' items).
                    getattr(projection, "release", lambda: None)()
    except AlreadyRunning:
        raise RebuildBusy("another rebuild is running") from None
    for done in switched:
        log.info(
            "projection %s switched from %s to %s at position %d",
            done.name,
            done.previous or "nothing",
            done.slot,
            done.position,
        )
    return switched


async def _rebuild(
    store: Store,
    projections: Sequence[Projection],
    progress: Progress | None,
    batch_size: int,
    reader_grace: float,
) -> list[Rebuilt]:
    starts, leftovers = await _start(store, projections)
    await _drop(store, leftovers)
    position = min(start.position for start in starts)
    meter = _Meter(progress, await store.count_after(position))
    # Up to the history as it is now; then the indexes, and on from there.
    async with store.maintaining() as maintenance:
        through = await maintenance.head()
    folded = await _fill_to(store, starts, through, meter, batch_size)
    builders = [
        projection.builder(start.slot, through)
        for projection, start in zip(projections, starts, strict=True)
    ]
    await _finish(store, projections, builders)
    # What arrived meanwhile, so the switch has little left.
    position, more = await fill(store, builders, meter.advance, through, batch_size)
    switched = await _switch(store, builders, meter, position, batch_size, folded + more)
    await store.wait_for_readers(reader_grace)
    known = {projection.name: projection for projection in projections}
    await _drop(store, [(known[done.name], done.previous) for done in switched if done.previous])
    return switched


class _Meter:
    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress = progress
        self.done = 0
        self.total = total

    def one_pass(self) -> Callable[[int], None]:
        """The report of one more pass over the history from where the meter
        stands: passes read the same events, so it moves only past where an
        earlier pass got."""
        base, read = self.done, 0

        def report(count: int) -> None:
            nonlocal read
            read += count
            if base + read > self.done:
                self.advance(base + read - self.done)

        return report

    def advance(self, count: int) -> None:
        self.done += count
        # Events appended during the rebuild make the history longer.
        self.total = max(self.total, self.done)
        if self.progress is not None:
            self.progress(self.done, self.total)


async def _start(
    store: Store, projections: Sequence[Projection]
) -> tuple[list[Start], list[tuple[Projection, Slot]]]:
    """A building slot per projection: the one of this version an earlier run
    left, or a new one. Returns where they stand and the slots whose tables go."""
    starts: list[Start] = []
    leftovers: list[tuple[Projection, Slot]] = []
    async with store.maintaining(locked=True) as maintenance:
        rows = await maintenance.registered([projection.name for projection in projections])
        for projection in projections:
            mine = [row for row in rows if row.name == projection.name]
            # A drop interrupted after an earlier switch leaves tables behind.
            leftovers.extend((projection, row.slot) for row in mine if row.state == "retired")
            building = next((row for row in mine if row.state == "building"), None)
            if (
                building is not None
                and building.slot.version == projection.version
                and (getattr(projection, "resumes", True) or building.position == 0)
            ):
                starts.append(Start(projection.name, building.slot, building.position))
                continue
            if building is not None:
                # Left by a rebuild of another version: of no use to this one.
                await maintenance.set_state(projection.name, building.slot, "retired")
                leftovers.append((projection, building.slot))
            starts.append(Start(projection.name, await _new_slot(maintenance, projection), 0))
    return starts, leftovers


async def _new_slot(maintenance: Maintenance, projection: Projection) -> Slot:
    """Tables for a new build, without the indexes the fill does not need (nor
    the primary key of tables only added to), registered as building."""
    slot = await maintenance.next_slot(projection.name, projection.version)
    tables = projection.tables(slot)
    await maintenance.create(tables, bare=True)
    if projection.only_added:
        for table in tables:
            await maintenance.drop_primary_key(table)
    await maintenance.register(projection.name, slot, "building")
    return slot


async def _fill_to(
    store: Store, starts: Sequence[Start], through: int, meter: _Meter, batch_size: int
) -> Counter[str]:
    """Fill every slot up to `through` and make that their checkpoint. Slots
    that stand at one position are filled in one pass (a builder never folds
    a batch it is past); a builder that can hold its result does so on a slot
    begun from nothing."""
    folded: Counter[str] = Counter()
    positions = sorted({start.position for start in starts})
    reports = [meter.one_pass() for _ in positions]
    for position, report in zip(positions, reports, strict=True):
        group = [start for start in starts if start.position == position]
        builders = [by_name([start.name])[0].builder(start.slot, position) for start in group]
        for builder in builders:
            if isinstance(builder, Holding) and position == 0:
                builder.hold()
        _, done = await fill(store, builders, report, position, batch_size, through=through)
        folded |= done
    async with store.maintaining() as maintenance:
        for start in starts:
            await maintenance.checkpoint(start.name, start.slot, through)
    return folded


async def _finish(
    store: Store, projections: Sequence[Projection], builders: Sequence[Builder]
) -> None:
    """The keys and indexes left out while the slots filled, before they are served."""
    known = {projection.name: projection for projection in projections}
    async with store.maintaining() as maintenance:
        for builder in builders:
            await maintenance.finish(known[builder.name].tables(builder.slot))


async def _switch(
    store: Store,
    builders: Sequence[Builder],
    meter: _Meter,
    position: int,
    batch_size: int,
    folded: Counter[str],
) -> list[Rebuilt]:
    """Under the append lock: fold the last events, make the built slots active
    and retire the ones they replace, all in one transaction."""
    reading = Reading(decoder(store.upcast), [builder.reads for builder in builders])
    switched: list[Rebuilt] = []
    async with store.maintaining(locked=True, wait=SWITCH_WAIT) as maintenance:

        async def read(lookup: Lookup) -> list[Row]:
            # Through the switch's own transaction, which sees its writes.
            return await maintenance.look_up(lookup)

        while (
            chunk := await reading.chunk(
                await store.read_raw(position, batch_size, data_of=reading.data_of)
            )
        ).read:
            position = chunk.last
            for builder in builders:
                folded[builder.name] += chunk.counted(builder.position)
                await maintenance.write(await builder.stage(chunk.view(builder.reads), read))
            meter.advance(chunk.read)
        active = await maintenance.active_slots()
        for builder in builders:
            previous = active.get(builder.name)
            if previous is not None:
                # Retired first: a projection has at most one active slot.
                await maintenance.set_state(builder.name, previous, "retired")
            await maintenance.set_state(builder.name, builder.slot, "active")
            await maintenance.checkpoint(builder.name, builder.slot, position)
            switched.append(
                Rebuilt(
                    name=builder.name,
                    slot=builder.slot,
                    previous=previous,
                    position=position,
                    events=folded[builder.name],
                )
            )
    if meter.progress is not None:
        meter.progress(meter.done, meter.done)
    return switched


async def _drop(store: Store, slots: Sequence[tuple[Projection, Slot]]) -> None:
    if not slots:
        return
    async with store.maintaining() as maintenance:
        for projection, slot in slots:
            await maintenance.drop(projection.tables(slot))

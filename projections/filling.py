"""Filling building slots from the history: batches read ahead, folded by each
projection's builder and written with their checkpoints. A batch decodes only
the events some builder folds, and each builder is handed those it folds
(`projections.reading.Wanted`).

The rows and the registry's checkpoint that covers them are one transaction,
so an interrupted fill resumes exactly where it stopped. A builder that holds
its result (`projections.projection.Holding`) writes nothing and keeps its
checkpoint until the history is read; its tables are then written once, with
its checkpoint, in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Final

from adapters.store import LAST, Store, TableWrite
from projections.projection import Builder, Holding
from projections.reading import EVERY, EventChunk, Reading, Wanted, decoder

Report = Callable[[int], None]
"""Told how many events were read, after each committed batch. An exception
raised from it stops the fill."""

GC_THRESHOLD: Final = 50_000


class Prefetch:
    """Reads the next batch while the current one is folded and written."""

    def __init__(
        self,
        store: Store,
        after: int,
        size: int,
        through: int = LAST,
        wanted: Sequence[Wanted] = (EVERY,),
    ) -> None:
        self.store = store
        self.after = after
        self.size = size
        self.through = through
        self.reading = Reading(decoder(store.upcast), wanted)
        self._next: asyncio.Task[EventChunk] | None = None

    async def next(self) -> EventChunk:
        task = self._next or asyncio.create_task(self._read(self.after))
        self._next = None
        chunk = await task
        if chunk.read == self.size:
            self.after = chunk.last
            self._next = asyncio.create_task(self._read(self.after))
        return chunk

    async def close(self) -> None:
        if self._next is not None:
            self._next.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._next
            self._next = None

    async def _read(self, after: int) -> EventChunk:
        reading = self.reading
        rows = await self.store.read_raw(after, self.size, self.through, data_of=reading.data_of)
        return await reading.chunk(rows)


async def fill(
    store: Store,
    builders: Sequence[Builder],
    report: Report,
    position: int,
    batch_size: int,
    *,
    through: int = LAST,
) -> tuple[int, Counter[str]]:
    """Fold and write batches from `position` on, up to `through` or until the
    history is nearly read. A batch is folded while the previous one is
    written; what holding builders held is written last. Returns the position
    reached and the events each builder folded."""
    reader = Prefetch(store, position, batch_size, through, [b.reads for b in builders])
    folded: Counter[str] = Counter()
    pending: asyncio.Task[None] | None = None
    counted = 0
    try:
        while (chunk := await reader.next()).read:
            # A builder resumed further on than others waits for its position.
            staging = [builder for builder in builders if builder.position < chunk.last]
            writes = []
            for builder in staging:
                folded[builder.name] += chunk.counted(builder.position)
                writes.append(await builder.stage(chunk.view(builder.reads), store.look_up))
            if pending is not None:
                await asyncio.shield(pending)
                report(counted)
            pending = asyncio.create_task(_commit(store, staging, writes, chunk.last))
            position, counted = chunk.last, chunk.read
            if chunk.read < batch_size:
                break
        if pending is not None:
            await asyncio.shield(pending)
            report(counted)
        held = [builder for builder in builders if isinstance(builder, Holding) and builder.holds]
        if held:
            await _commit(store, held, [builder.flush() for builder in held], position)
    finally:
        await reader.close()
        if pending is not None and not pending.done():
            # Let a batch being written commit or fail on its own: cancelling
            # a statement half-way can leave its connection unusable.
            with contextlib.suppress(Exception):
                await asyncio.shield(pending)
    return position, folded


async def _commit(
    store: Store,
    builders: Sequence[Builder],
    writes: Sequence[list[TableWrite]],
    through: int,
) -> None:
    """One batch of every builder, with the checkpoints of those that do not
    hold, in one transaction. No append lock: only this rebuild writes a
    building slot."""
    checkpointed = [not _holds(builder) for builder in builders]
    async with store.maintaining(durable=False) as maintenance:
        for builder, builder_writes, moves in zip(builders, writes, checkpointed, strict=True):
            await maintenance.write(builder_writes, copy=True)
            if moves:
                await maintenance.checkpoint(builder.name, builder.slot, through)


def _holds(builder: Builder) -> bool:
    return isinstance(builder, Holding) and builder.holds


@contextlib.contextmanager
def collecting_less() -> Iterator[None]:
    """Fewer garbage collections while the block runs: a rebuild makes
    millions of short-lived objects, and every full collection would walk all
    the long-lived ones again (a third of a rebuild's time, measured)."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()

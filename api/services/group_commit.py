"""Group commit: concurrent deliveries share one durable transaction.

Every delivery waits for the commit that holds it, so an answer of 200 still
means durable; many deliveries per commit is what makes ingest fast. As many
batches are handed to the store at once as it works on at once
(`Writer.batches_at_once`: on PostgreSQL the next batch is read and decided
while the one before it is written and committed); they take the store's
write lock in the order they were formed.

Batches are bounded by deliveries, facts and bytes, and a large delivery
(an OFS page of a thousand events, say) commits on its own: small deliveries
wait in a lane of their own and are taken first, so a webhook of one row is
not held up behind a stream of large pages. A batch that fails is retried one
delivery at a time, so one bad delivery fails alone; a store that is busy (its
write lock held elsewhere) fails the whole batch at once instead, each
delivery answered within the busy timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from adapters.store import Delivery, Receipt, StoreBusy, Writer

log = logging.getLogger("invtrack.ingest")

LARGE: Final = 64 * 1024
"""A delivery of more bytes than this commits on its own, in the large lane."""


@dataclass(frozen=True)
class Limits:
    """What one commit may hold."""

    deliveries: int = 128
    facts: int = 5_000
    bytes: int = 4 * 1024 * 1024


class CommitFailed(Exception):
    """The store could not commit a delivery; nothing of it was kept."""


class StoreUnavailable(CommitFailed):
    """The store is busy (its write lock held elsewhere): try again later."""


_Waiting = tuple[Delivery, "asyncio.Future[Receipt]"]


class Ingestor:
    def __init__(self, store: Writer, *, limits: Limits | None = None) -> None:
        self.store = store
        self.limits = limits or Limits()
        self._small: asyncio.Queue[_Waiting] = asyncio.Queue()
        self._large: asyncio.Queue[_Waiting] = asyncio.Queue()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.busy = False
        """Whether the last commit found the store busy."""

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="invtrack-ingest")

    async def stop(self) -> None:
        """Commit what is queued, then stop."""
        if self._task is None:
            return
        await self._small.join()
        await self._large.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def submit(self, delivery: Delivery) -> Receipt:
        """Commit the delivery (with others queued at the same time) and say what it did."""
        if self._task is None:
            return (await self.commit([delivery]))[0]
        future: asyncio.Future[Receipt] = asyncio.get_running_loop().create_future()
        lane = self._large if _large(delivery) else self._small
        lane.put_nowait((delivery, future))
        self._ready.set()
        return await future

    async def _run(self) -> None:
        flying: dict[asyncio.Task[None], int] = {}
        large_next = False
        while True:
            await self._until_room(flying)
            # Small and large batches take turns, so neither lane waits behind the other.
            large = not self._large.empty() and (large_next or self._small.empty())
            large_next = not large
            lane = self._large if large else self._small
            batch = [self._large.get_nowait()] if large else self._take(self._small)
            flying[self._fly(lane, batch)] = len(batch)

    async def _until_room(self, flying: dict[asyncio.Task[None], int]) -> None:
        """Until a batch may be formed: deliveries wait, fewer batches are in
        flight than the store works on at once, and beside one in flight at
        least as many deliveries wait as it holds (a batch formed sooner
        would be smaller, and cost more per delivery than working on two at
        once saves)."""
        while True:
            for task in [task for task in flying if task.done()]:
                del flying[task]
            waiting = self._small.qsize() + self._large.qsize()
            room = len(flying) < max(1, self.store.batches_at_once)
            if waiting and (not flying or (room and waiting >= max(flying.values()))):
                return
            self._ready.clear()
            wake = asyncio.ensure_future(self._ready.wait())
            await asyncio.wait({wake, *flying}, return_when=asyncio.FIRST_COMPLETED)
            wake.cancel()

    def _fly(self, lane: asyncio.Queue[_Waiting], batch: list[_Waiting]) -> asyncio.Task[None]:
        return asyncio.create_task(self._commit_batch(lane, batch), name="invtrack-batch")

    def _take(self, lane: asyncio.Queue[_Waiting]) -> list[_Waiting]:
        batch = [lane.get_nowait()]
        facts, size = len(batch[0][0].facts), batch[0][0].size
        limits = self.limits
        while len(batch) < limits.deliveries and not lane.empty():
            delivery = lane._queue[0][0]  # type: ignore[attr-defined]
            if facts + len(delivery.facts) > limits.facts or size + delivery.size > limits.bytes:
                break
            batch.append(lane.get_nowait())
            facts, size = facts + len(delivery.facts), size + delivery.size
        return batch

    async def _commit_batch(self, lane: asyncio.Queue[_Waiting], batch: list[_Waiting]) -> None:
        try:
            await self._settle(batch)
        finally:
            for _ in batch:
                lane.task_done()

    async def _settle(self, batch: list[_Waiting]) -> None:
        """Commit the batch and answer each delivery; when it fails for a reason
        other than a busy store, commit its deliveries one by one."""
        try:
            receipts = await self.commit([delivery for delivery, _ in batch])
        except StoreUnavailable as error:
            for _, future in batch:
                _fail(future, error)
            return
        except CommitFailed as error:
            if len(batch) == 1:
                _fail(batch[0][1], error)
                return
            log.warning("batch of %d failed; committing one by one", len(batch))
            for waiting in batch:
                await self._settle([waiting])
            return
        for (_, future), receipt in zip(batch, receipts, strict=True):
            if not future.done():
                future.set_result(receipt)

    async def commit(self, deliveries: Sequence[Delivery]) -> list[Receipt]:
        """Commit deliveries in one transaction now."""
        try:
            receipts = await self.store.commit(deliveries)
        except StoreBusy as error:
            self.busy = True
            log.warning("store busy: %s", error)
            raise StoreUnavailable(str(error)) from None
        except Exception as error:
            log.exception("commit failed")
            raise CommitFailed("the delivery could not be committed") from error
        self.busy = False
        return receipts


def _large(delivery: Delivery) -> bool:
    return delivery.size > LARGE


def _fail(future: asyncio.Future[Receipt], error: CommitFailed) -> None:
    if not future.done():
        future.set_exception(type(error)(str(error)))

"""Group commit: concurrent deliveries share one durable transaction.

Every delivery waits for the commit that holds it, so an answer of 200 still
means durable; many deliveries per commit is what makes ingest fast. A batch
that fails is retried one delivery at a time, so one bad delivery fails alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from adapters.store import Delivery, EventStore, Receipt, Writer
from projections.live import Batch, LiveProjector

log = logging.getLogger("invtrack.ingest")


class Ingestor:
    def __init__(
        self, store: EventStore, projector: LiveProjector | None = None, *, max_batch: int = 128
    ) -> None:
        self.store = store
        self.projector = projector or LiveProjector()
        self.max_batch = max_batch
        self._queue: asyncio.Queue[tuple[Delivery, asyncio.Future[Receipt]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="invtrack-ingest")

    async def stop(self) -> None:
        """Commit what is queued, then stop."""
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def submit(self, delivery: Delivery) -> Receipt:
        """Commit the delivery (with others queued at the same time) and say what it did."""
        if self._task is None:
            return await self.commit_one(delivery)
        future: asyncio.Future[Receipt] = asyncio.get_running_loop().create_future()
        await self._queue.put((delivery, future))
        return await future

    async def commit_one(self, delivery: Delivery) -> Receipt:
        async with self.store.writing() as writer:
            return (await self._commit(writer, [delivery]))[0]

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._commit_batch(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _commit_batch(
        self, batch: Sequence[tuple[Delivery, asyncio.Future[Receipt]]]
    ) -> None:
        try:
            async with self.store.writing() as writer:
                receipts = await self._commit(writer, [delivery for delivery, _ in batch])
        except Exception:
            if len(batch) == 1:
                _, future = batch[0]
                log.exception("commit failed")
                _fail(future)
                return
            log.warning("batch of %d failed; committing one by one", len(batch))
            for item in batch:
                await self._commit_batch([item])
            return
        for (_, future), receipt in zip(batch, receipts, strict=True):
            if not future.done():
                future.set_result(receipt)

    async def _commit(self, writer: Writer, deliveries: Sequence[Delivery]) -> list[Receipt]:
        """Commit deliveries in order with a fixed number of statements: cursors,
        inbox rows (a repeated message id is a duplicate), then their facts."""
        for delivery in deliveries:
            if delivery.cursor is not None:
                await writer.save_cursor(delivery.cursor)
        accepted = [d for d in deliveries if d.inbox is not None and d.rejected is None]
        accepted_ids = iter(await writer.receive_many([d.inbox for d in accepted if d.inbox]))
        quarantined = [d for d in deliveries if d.inbox is not None and d.rejected is not None]
        quarantined_ids = iter(
            await writer.keep(
                [(d.inbox, "quarantined", d.rejected) for d in quarantined if d.inbox]
            )
        )
        inbox_ids: list[int | None] = []
        for delivery in deliveries:
            if delivery.inbox is None:
                inbox_ids.append(None)
            elif delivery.rejected is None:
                inbox_ids.append(next(accepted_ids))
            else:
                inbox_ids.append(next(quarantined_ids))
        recorded = [
            (index, Batch(facts=d.facts, inbox_id=inbox_ids[index], metadata=d.metadata))
            for index, d in enumerate(deliveries)
            if d.inbox is not None and d.rejected is None and inbox_ids[index] is not None
        ]
        stored = await self.projector.record_many(writer, [b for _, b in recorded])
        appended = {index: len(events) for (index, _), events in zip(recorded, stored, strict=True)}
        receipts: list[Receipt] = []
        for index, delivery in enumerate(deliveries):
            inbox_id = inbox_ids[index]
            if delivery.inbox is None:
                receipts.append(Receipt(inbox_id=None))
            elif delivery.rejected is not None:
                receipts.append(Receipt(inbox_id=inbox_id, quarantined=True))
            elif inbox_id is None:
                receipts.append(Receipt(inbox_id=None, duplicate=True, skipped=len(delivery.facts)))
            else:
                count = appended[index]
                receipts.append(
                    Receipt(inbox_id=inbox_id, appended=count, skipped=len(delivery.facts) - count)
                )
        return receipts


def _fail(future: asyncio.Future[Receipt]) -> None:
    if not future.done():
        future.set_exception(CommitFailed("the delivery could not be committed"))


class CommitFailed(Exception):
    """The store could not commit a delivery; nothing of it was kept."""

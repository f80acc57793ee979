"""Delivering push subscriptions, inside `invtrack serve` (every worker).

Each process takes the lease of the subscriptions whose lease is free or
run out, keeps it while it runs, and delivers each leased subscription in a
task of its own (a slow or hanging subscriber never holds up another, and
ingest never waits for any). A subscription's batches go in feed order, one
at a time: a batch is recorded as pending (its `webhook-id` and last
position) before it is sent, so a retry, or another process after this one
was killed, sends the same batch with the same id; the position moves only
after a 2xx. Failures are retried with backoff and jitter, `Retry-After`
honoured, and a subscription failing for longer than the park time is
parked until an admin resumes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import socket
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import msgspec
from prometheus_client import Counter

from adapters.store import Store
from adapters.store.feed import FeedEntry, FeedQuery, SubscriptionRecord
from api.http.feed_params import feed_filter
from api.services.feed import batch_body
from api.services.webhook_sender import Outcome, Sender, retry_delay
from api.subscription_settings import SubscriptionSettings

log = logging.getLogger("invtrack.subscriptions")

LEASE_SECONDS: Final = 30.0
"""How long a lease lasts unless renewed (a killed process's run out)."""
RENEW_SECONDS: Final = 5.0
"""Time between two renewals (and looks for subscriptions to take)."""
IDLE_SECONDS: Final = 15.0
"""Longest a caught-up subscription waits before it looks again."""

DELIVERIES: Final = Counter(
    "invtrack_subscription_deliveries",
    "Batches sent to push subscribers, by outcome: delivered, failed, refused, parked",
    ["outcome"],
)


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class Deliverer:
    def __init__(
        self,
        store: Store,
        settings: SubscriptionSettings,
        stop: asyncio.Event,
        *,
        sender: Sender | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.stop = stop
        self.sender = sender or Sender(
            timeout=settings.timeout,
            allow_private=settings.allow_private,
            allow_http=settings.allow_http,
        )
        self.rng = rng or random.Random()  # noqa: S311  # jitter, not secrets
        self.holder = holder_name()
        self.workers: dict[str, asyncio.Task[None]] = {}

    async def run(self) -> None:
        """Take and renew leases, and deliver what is leased, until stopped."""
        try:
            while not self.stop.is_set():
                try:
                    await self._renew()
                except Exception:  # the store is away: try again at the next renewal
                    log.exception("taking subscription leases failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), RENEW_SECONDS)
        finally:
            await self._end()

    async def _renew(self) -> None:
        now = datetime.now(UTC)
        leased = await self.store.lease_subscriptions(
            self.holder, now, now + timedelta(seconds=LEASE_SECONDS)
        )
        ids = {record.id for record in leased}
        for subscription_id, task in list(self.workers.items()):
            if subscription_id not in ids or task.done():
                task.cancel()
                del self.workers[subscription_id]
        for subscription_id in ids - set(self.workers):
            self.workers[subscription_id] = asyncio.create_task(
                self._work(subscription_id), name=f"invtrack-deliver-{subscription_id}"
            )

    async def _end(self) -> None:
        for task in self.workers.values():
            task.cancel()
        await asyncio.gather(*self.workers.values(), return_exceptions=True)
        self.workers.clear()
        with contextlib.suppress(Exception):
            await self.store.release_subscriptions(self.holder)
        await self.sender.close()

    async def _work(self, subscription_id: str) -> None:
        while not self.stop.is_set():
            try:
                record = await self.store.subscription(subscription_id)
                if record is None or record.state == "parked" or record.lease_holder != self.holder:
                    return
                await self.step(record)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("delivering subscription %s failed", subscription_id)
                await self._pause(RENEW_SECONDS)

    async def step(self, record: SubscriptionRecord) -> None:
        """One step of a subscription: wait for its next attempt, or for new
        entries, or send its batch and record what came of it."""
        now = datetime.now(UTC)
        if record.next_attempt_at is not None and record.next_attempt_at > now:
            await self._pause((record.next_attempt_at - now).total_seconds())
            return
        entries, through = await self._batch(record)
        if not entries:
            if through > record.position:
                await self._record(record, {"position": through})
            else:
                await self._idle(through)
            return
        if record.pending_id is None:
            message_id = f"{record.id}-{record.generation}-{through}"
            pending = {"pending_id": message_id, "pending_through": through}
            if not await self._record(record, pending):
                return
            record = msgspec.structs.replace(record, pending_id=message_id, pending_through=through)
        assert record.pending_id is not None
        body = batch_body(entries)
        outcome = await self.sender.send(record.url, record.secret, record.pending_id, body)
        await self._settle(record, through, outcome)

    async def _batch(self, record: SubscriptionRecord) -> tuple[list[FeedEntry], int]:
        """The entries of the pending batch (the same as when it was made), or
        of the next one, and the position it ends at."""
        query = FeedQuery(
            after=record.position, limit=record.batch_size, where=feed_filter(record.filters)
        )
        page = await self.store.read_feed(query)
        if record.pending_through is not None:
            through = record.pending_through
            return [entry for entry in page.entries if entry.position <= through], through
        return page.entries, page.through

    async def _settle(self, record: SubscriptionRecord, through: int, outcome: Outcome) -> None:
        now = datetime.now(UTC)
        if outcome.delivered:
            DELIVERIES.labels("delivered").inc()
            await self._record(record, _delivered(through, now))
            return
        failing_since = record.failing_since or now
        attempts = record.attempts + 1
        parked = (now - failing_since).total_seconds() >= self.settings.park_after
        DELIVERIES.labels("parked" if parked else "refused" if outcome.refused else "failed").inc()
        delay = retry_delay(attempts, outcome.retry_after, self.rng)
        values: dict[str, Any] = {
            "state": "parked" if parked else "retrying",
            "attempts": attempts,
            "failing_since": failing_since,
            "last_error": outcome.error,
            "next_attempt_at": None if parked else now + timedelta(seconds=delay),
        }
        log.warning("delivering subscription %s failed: %s", record.id, outcome.error)
        await self._record(record, values)

    async def _record(self, record: SubscriptionRecord, values: dict[str, Any]) -> bool:
        return await self.store.record_delivery(
            record.id, values, holder=self.holder, generation=record.generation
        )

    async def _idle(self, head: int) -> None:
        waiting = asyncio.ensure_future(self.store.wait_for_feed(head, IDLE_SECONDS))
        stopping = asyncio.ensure_future(self.stop.wait())
        try:
            await asyncio.wait((waiting, stopping), return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiting.cancel()
            stopping.cancel()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), min(seconds, IDLE_SECONDS))


def _delivered(through: int, now: datetime) -> dict[str, Any]:
    return {
        "position": through,
        "pending_id": None,
        "pending_through": None,
        "state": "active",
        "attempts": 0,
        "failing_since": None,
        "last_error": None,
        "next_attempt_at": None,
        "last_delivered_at": now,
    }

"""The change feed and its push subscriptions on the store's port: the feed's
reads on the reader side (a copy a moment behind may answer them: a reader
only ever sees a committed prefix), the subscriptions' state on the writer
side (a lease or an acknowledged position must never be read stale)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from adapters.store.feed import FeedPage, FeedQuery, SubscriptionRecord


@runtime_checkable
class FeedReader(Protocol):
    async def read_feed(self, query: FeedQuery) -> FeedPage:
        """Up to `query.limit` entries after `query.after` that pass its
        filter, in position order, with the head committed when they were
        read (one snapshot): no entry at or below the page's `through` can
        appear later."""
        ...

    async def wait_for_feed(self, after: int, seconds: float) -> int:
        """Wait until the feed's head is past `after` (a commit of any
        process), at most `seconds` seconds; the head known then."""
        ...

    async def feed_head(self) -> int:
        """The feed's last position, 0 when it is empty."""
        ...

    async def feed_recorded_before(self, moment: datetime) -> int:
        """The last position committed before `moment` (0 when none was)."""
        ...


@runtime_checkable
class FeedWriter(Protocol):
    async def fill_feed(self) -> int:
        """Entries for every stored event when the feed is empty (a history
        loaded in bulk by `load_history`), made as live batches make them;
        how many. Holds the append lock meanwhile."""
        ...

    async def add_subscription(self, record: SubscriptionRecord) -> None: ...

    async def subscriptions(self) -> list[SubscriptionRecord]:
        """Every subscription, oldest first."""
        ...

    async def subscription(self, subscription_id: str) -> SubscriptionRecord | None: ...

    async def delete_subscription(self, subscription_id: str) -> bool:
        """Remove one; whether it was there."""
        ...

    async def change_subscription(
        self, subscription_id: str, values: Mapping[str, Any]
    ) -> SubscriptionRecord | None:
        """An admin's change (rewind, resume): it moves the generation, so an
        outcome of a delivery begun before is not recorded over it. The
        subscription as changed, None when there is none."""
        ...

    async def record_delivery(
        self, subscription_id: str, values: Mapping[str, Any], *, holder: str, generation: int
    ) -> bool:
        """Record what a delivery did, only while `holder` holds the lease and
        nothing changed the generation; whether it was recorded."""
        ...

    async def lease_subscriptions(
        self, holder: str, now: datetime, until: datetime
    ) -> list[SubscriptionRecord]:
        """Take or keep the lease (until `until`) of every subscription that
        is not parked and whose lease is free, run out or the holder's; the
        ones the holder leases now."""
        ...

    async def release_subscriptions(self, holder: str) -> None:
        """Let go of every lease the holder has."""
        ...

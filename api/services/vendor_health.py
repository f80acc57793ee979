"""How the pullers are doing, from the store, for `invtrack status`, `/ready`,
`/metrics` and the dashboard (the pullers often run in another process):

- each puller's health (`adapters.puller.Health`): failing since when (the
  vendor unreachable, answering errors, or the store failing), the last error;
- the OFS subscription gaps: every time OFS dropped a poller's subscription
  and a new one had to be made, with the time from which events may be
  missing and the time the new subscription began.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from adapters.puller import HEALTH_PREFIX, Health
from adapters.store import Reader
from domain.events import OfsSubscriptionGap, from_data
from domain.fold import GAPS_STREAM


class PullerStatus(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One puller: `failingSince` is null while it reads."""

    name: str
    source: str
    failing_since: datetime | None
    last_error: str | None


class GapStatus(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One OFS subscription gap: events from `since` (null: from the start) to
    `until` may never have been read."""

    poller: str
    since: datetime | None
    until: datetime
    expired_subscription: str | None
    subscription: str


class VendorHealth(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    pullers: list[PullerStatus]
    subscription_gaps: int
    """OFS subscription gaps recorded in all."""
    recent_gaps: list[GapStatus]
    """The newest gaps, newest first."""

    @property
    def failing(self) -> list[PullerStatus]:
        return [puller for puller in self.pullers if puller.failing_since is not None]


async def vendor_health(store: Reader, *, gaps: int = 5) -> VendorHealth:
    """Every puller's health and the OFS subscription gaps (the newest `gaps`)."""
    pullers = [Health.of(cursor) for cursor in await store.cursors(HEALTH_PREFIX)]
    recorded = [
        event
        for stored in await store.read_stream(GAPS_STREAM)
        if isinstance(event := from_data(stored.data), OfsSubscriptionGap)
    ]
    return VendorHealth(
        pullers=[
            PullerStatus(
                name=health.name,
                source=health.source,
                failing_since=health.failing_since,
                last_error=health.last_error,
            )
            for health in pullers
        ],
        subscription_gaps=len(recorded),
        recent_gaps=[
            GapStatus(
                poller=gap.poller,
                since=gap.since,
                until=gap.occurred_at,
                expired_subscription=gap.expired_subscription,
                subscription=gap.subscription,
            )
            for gap in reversed(recorded[-gaps:])
        ],
    )

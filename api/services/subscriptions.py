"""Push subscriptions as an admin manages them: made (the URL checked against
SSRF, the filters as the feed's), listed with their lag, rewound by position
or time, resumed, deleted."""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime
from typing import Any

from adapters.store import Store
from adapters.store.feed import SubscriptionRecord
from api.http.feed_params import FILTERS, bad, feed_filter
from api.http.feed_schemas import CreatedSubscription, RewindIn, SubscriptionIn, SubscriptionOut
from api.http.problems import Problem
from api.services.ssrf import Refused, Resolver, check, system_resolver
from api.subscription_settings import SubscriptionSettings


def new_secret() -> str:
    """A signing secret as Standard Webhooks writes them: `whsec_` + base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _filters(given: dict[str, str | list[str]]) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for name, value in given.items():
        if name not in FILTERS:
            raise bad(f"filters.{name}", f"is not a filter (known: {', '.join(FILTERS)})")
        filters[name] = [value] if isinstance(value, str) else list(value)
    try:
        feed_filter(filters)
    except Problem as problem:
        raise bad(f"filters.{next(iter(filters))}", str(problem.detail)) from None
    return filters


class SubscriptionAdmin:
    def __init__(
        self,
        store: Store,
        settings: SubscriptionSettings,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.store = store
        self.settings = settings
        self.resolver = resolver

    async def create(self, given: SubscriptionIn) -> CreatedSubscription:
        filters = _filters(given.filters)
        try:
            await check(
                given.url,
                allow_http=self.settings.allow_http,
                allow_private=self.settings.allow_private,
                resolver=self.resolver,
            )
        except Refused as error:
            raise bad("url", str(error)) from None
        head = await self.store.feed_head()
        record = SubscriptionRecord(
            id="sub_" + secrets.token_hex(8),
            url=given.url,
            filters=filters,
            secret=new_secret(),
            batch_size=given.batch_size,
            position=self._start(given.from_, head),
            state="active",
            created_at=datetime.now(UTC),
        )
        await self.store.add_subscription(record)
        out = SubscriptionOut.of(record, head)
        fields = {name: getattr(out, name) for name in out.__struct_fields__}
        return CreatedSubscription(**fields, secret=record.secret)

    @staticmethod
    def _start(start: str | int, head: int) -> int:
        if start == "now":
            return head
        if start == "start":
            return 0
        if isinstance(start, int) and not isinstance(start, bool) and start >= 0:
            return start
        raise bad("from", "must be `now`, `start` or a feed position (a whole number from 0)")

    async def listed(self) -> list[SubscriptionOut]:
        head = await self.store.feed_head()
        return [SubscriptionOut.of(record, head) for record in await self.store.subscriptions()]

    async def one(self, subscription_id: str) -> SubscriptionOut:
        record = await self.store.subscription(subscription_id)
        if record is None:
            raise Problem(404, "Not Found", f"no subscription {subscription_id!r}")
        return SubscriptionOut.of(record, await self.store.feed_head())

    async def rewind(self, subscription_id: str, given: RewindIn) -> SubscriptionOut:
        if (given.position is None) == (given.time is None):
            raise bad("position", "give either `position` or `time`")
        if given.time is not None:
            moment = given.time if given.time.tzinfo else given.time.replace(tzinfo=UTC)
            position = await self.store.feed_recorded_before(moment)
        else:
            assert given.position is not None
            position = given.position
        return await self._change(subscription_id, {**_fresh(), "position": position})

    async def resume(self, subscription_id: str) -> SubscriptionOut:
        """Deliver again now; a pending batch goes again with its id."""
        values = _fresh()
        del values["pending_id"], values["pending_through"]
        return await self._change(subscription_id, values)

    async def delete(self, subscription_id: str) -> None:
        if not await self.store.delete_subscription(subscription_id):
            raise Problem(404, "Not Found", f"no subscription {subscription_id!r}")

    async def _change(self, subscription_id: str, values: dict[str, Any]) -> SubscriptionOut:
        record = await self.store.change_subscription(subscription_id, values)
        if record is None:
            raise Problem(404, "Not Found", f"no subscription {subscription_id!r}")
        return SubscriptionOut.of(record, await self.store.feed_head())


def _fresh() -> dict[str, Any]:
    """What a rewind or a resume clears: failures, waiting, the pending batch."""
    return {
        "state": "active",
        "attempts": 0,
        "failing_since": None,
        "next_attempt_at": None,
        "last_error": None,
        "pending_id": None,
        "pending_through": None,
    }

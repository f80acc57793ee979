"""`invtrack ofs-poll`: pull OFS inventory events through the Events API.

The rules the poller keeps:

- **One page, one commit.** Each non-empty page is one Delivery: the raw page
  (kept in the inbox as received), the facts of its events, and the cursor
  (subscription, `nextPage` marker, newest event time) commit in one
  transaction. The cursor therefore never moves past events that are not
  stored, and a restart resumes from the stored cursor. A page read again
  after a crash is an inbox duplicate and its events are skipped by their
  dedupe keys, so every event is stored once. An empty page only moves the
  cursor (if its marker changed).
- **One bad event costs only itself.** An event that cannot be translated (an
  `inventoryId` that differs between `inventoryChanges` and
  `inventoryDetails`, a `time` not `YYYY-MM-DD HH:MM:SS`, a value nested too
  deeply to read) is kept in quarantine on its own, its raw bytes with the
  reason, just before the page commits with the other events and the cursor.
  `invtrack replay-quarantine` retries it after a fix.
- **Caught up** when a page is empty, and when its `nextPage` does not move
  (the same marker, none at all, or one this run has read already): such a
  page's events are stored and the poller waits (with `once`, stops).
- **An answer that is not a page** (not JSON, not an object with `items` or
  `nextPage`, a `nextPage` that is not a marker) is quarantined with its bytes;
  the cursor stays and the poller waits as when caught up.
- **Subscribing.** On the first run the poller subscribes to the ten
  inventory event types and remembers the subscription in its cursor before it
  reads. It asks only for the detail fields the domain models (`DETAIL_FIELDS`):
  any other detail field would become a custom property of the item.
- **Expiry.** OFS drops a subscription unread for 36 hours; reads then answer
  404. The poller subscribes again and starts at the new subscription's own
  marker: OFS serves a subscription only the events after its creation, so
  asking `since` an older time is not supported. Events between the newest
  one stored and the new subscription may be lost: that gap is stored as an
  `OfsSubscriptionGap` event (with the raw facts in the inbox), logged, and
  handed to `on_gap` (the service reconciles the resources and activities
  touched in the last days, so any drift is found and reported).
- **Failures.** 429, 5xx, timeouts, broken connections, answers over the size
  cap or past the deadline back off with full jitter, never sooner than OFS's
  `Retry-After` (`adapters.pulling`). A failed commit backs off the same way
  and reads the same page again. A refusal (400, 401, 403, also from the
  token service) stops the poller with `OfsRejected`: credentials or
  permissions need an operator.
- **Credentials.** Basic, a fixed bearer token, or OAuth 2.0 access tokens
  (`client_credentials` or a JWT assertion) reused until shortly before they
  expire and renewed once after a 401 (`adapters.ofs.oauth`).
- **Pace.** At most `rate` requests a second go to the instance, token
  requests included.
- **Stopping and bounds** are the puller's (`adapters.puller`).

Logs go to the `invtrack.ofs` logger; they name the instance, subscription and
page markers, never a credential.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import httpx
import msgspec

from adapters.ofs.client import RATE_LIMIT, EventsPage, OfsClient, SubscriptionGone
from adapters.ofs.oauth import OfsCredentials
from adapters.ofs.pages import BadEvent, NotAPage, read_page
from adapters.ofs.translate import format_time, parse_time
from adapters.puller import Puller
from adapters.pulling import Cursors, Outcome, Patience, Submit, cursor_name
from adapters.store.records import Cursor, Delivery, InboxEntry
from adapters.vendor_http import Pace, usable_url
from domain.events import OFS_INVENTORY_EVENTS, Fact, OfsSubscriptionGap

log = logging.getLogger("invtrack.ofs")

INVENTORY_EVENTS: Final[tuple[str, ...]] = tuple(OFS_INVENTORY_EVENTS)
"""The event types the poller subscribes to: the ten inventory events."""

DETAIL_FIELDS: Final[tuple[str, ...]] = ("inventoryType", "serialNumber", "quantity", "status")
"""`inventoryDetails` fields asked for: the ones `OfsDetails` models (the id always comes)."""

MAX_LIMIT: Final = 1000
"""The Events API's largest page."""


@dataclass(frozen=True, kw_only=True)
class OfsCursor:
    """The poller's place: its subscription, the next page to read, and the
    newest event time stored (to resume from after the subscription expires)."""

    name: str
    subscription_id: str | None = None
    next_page: str | None = None
    last_event_time: str | None = None

    @classmethod
    def of(cls, saved: Cursor) -> OfsCursor:
        state = saved.state
        return cls(
            name=saved.name,
            subscription_id=state.get("subscription_id"),
            next_page=state.get("next_page"),
            last_event_time=state.get("last_event_time"),
        )

    def saved(self) -> Cursor:
        """As the store keeps it."""
        return Cursor(
            name=self.name,
            state={
                "subscription_id": self.subscription_id,
                "next_page": self.next_page,
                "last_event_time": self.last_event_time,
            },
        )


@dataclass(frozen=True, kw_only=True)
class OfsPollerConfig(Patience):
    """How to reach one OFS instance and how patiently to poll it. `name`
    identifies the cursor; by default it is derived from the URL and the client."""

    base_url: str
    credentials: OfsCredentials
    name: str | None = None
    limit: int = MAX_LIMIT
    title: str = "invtrack"
    fields: tuple[str, ...] = DETAIL_FIELDS
    rate: int = RATE_LIMIT

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.base_url:
            raise ValueError("the OFS base URL is required")
        usable_url(self.base_url, "the OFS base URL")
        if self.rate < 1:
            raise ValueError("the OFS request rate must be at least 1 a second")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")

    @property
    def cursor_name(self) -> str:
        """The cursor's name: `name`, else the base URL and the client."""
        derived = f"{self.base_url.rstrip('/')}#{self.credentials.label}"
        return cursor_name(self.name, derived, "ofs-poll:")


OnGap = Callable[[OfsSubscriptionGap], Awaitable[None]]
"""What to do once a subscription gap is stored (the service reconciles)."""


class OfsPoller(Puller):
    """Reads OFS inventory events page by page and submits each page as one Delivery."""

    log = log
    source = "OFS"

    def __init__(
        self,
        config: OfsPollerConfig,
        store: Cursors,
        submit: Submit,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        draw: Callable[[], float] = random.random,
        clock: Callable[[], float] | None = None,
        on_gap: OnGap | None = None,
    ) -> None:
        super().__init__(config, draw)
        self.config = config
        self.store = store
        self.submit = submit
        self.on_gap = on_gap
        self._transport = transport
        self._clock = clock
        self._client: OfsClient | None = None

    @property
    def name(self) -> str:
        return self.config.cursor_name

    @property
    def client(self) -> OfsClient:
        if self._client is None:
            self._client = ofs_client(self.config, self._transport, self._clock)
        return self._client

    async def _poll(self) -> Outcome:
        cursor = await self._cursor()
        try:
            page = await self._read(cursor)
        except SubscriptionGone:
            cursor = await self._resubscribe(cursor)
            page = await self._read(cursor)
        self._visit(cursor.next_page)
        return await self._store(cursor, page)

    async def _read(self, cursor: OfsCursor) -> EventsPage:
        assert cursor.subscription_id is not None
        return await self._call(
            self.client.events(
                cursor.subscription_id, page=cursor.next_page, limit=self.config.limit
            )
        )

    async def _cursor(self) -> OfsCursor:
        """The saved cursor; on the first run, a new subscription saved as one."""
        found = await self.store.cursor(self.name)
        saved = OfsCursor.of(found) if found is not None else None
        if saved is not None and saved.subscription_id is not None:
            return saved
        cursor = await self._subscribe(saved.last_event_time if saved else None)
        await self.submit(Delivery(inbox=None, cursor=cursor.saved()))
        log.info(
            "subscribed to OFS inventory events at %s: subscription %s",
            self.config.base_url,
            cursor.subscription_id,
        )
        return cursor

    async def _resubscribe(self, expired: OfsCursor) -> OfsCursor:
        """A new subscription, with the gap the expired one leaves stored."""
        log.warning(
            "OFS subscription %s is gone (unread for 36 hours, or deleted); subscribing again",
            expired.subscription_id,
        )
        cursor = await self._subscribe(expired.last_event_time)
        gap = OfsSubscriptionGap(
            occurred_at=datetime.now(UTC),
            poller=self.name,
            expired_subscription=expired.subscription_id,
            subscription=cursor.subscription_id or "",
            since=parse_time(expired.last_event_time) if expired.last_event_time else None,
        )
        await self.submit(_gap_delivery(gap, cursor))
        log.warning(
            "OFS subscription %s replaces %s; events from %s to %s may be missing "
            "(a new subscription gets only newer events): gap recorded",
            cursor.subscription_id,
            expired.subscription_id,
            expired.last_event_time or "the start",
            format_time(gap.occurred_at),
        )
        if self.on_gap is not None:
            await self.on_gap(gap)
        return cursor

    async def _subscribe(self, last_event_time: str | None) -> OfsCursor:
        """A new subscription, starting at its own marker."""
        subscription = await self._call(
            self.client.subscribe(INVENTORY_EVENTS, self.config.fields, title=self.config.title)
        )
        return OfsCursor(
            name=self.name,
            subscription_id=subscription.subscription_id,
            next_page=subscription.next_page,
            last_event_time=last_event_time,
        )

    async def _store(self, cursor: OfsCursor, page: EventsPage) -> Outcome:
        try:
            read = read_page(page.body)
        except NotAPage as error:
            return await self._unreadable(cursor, page, str(error))
        next_page = read.next_page
        stuck = next_page is None or next_page == cursor.next_page or self._revisits(next_page)
        if not read.events:
            if not stuck:
                moved = _moved(cursor, next_page, ())
                await self.submit(Delivery(inbox=None, cursor=moved.saved()))
            log.debug("no new OFS events after page %s", cursor.next_page)
            return Outcome(events=0, caught_up=True)
        moved = _moved(cursor, cursor.next_page if stuck else next_page, read.facts)
        await self._set_aside(cursor, page, read.bad)
        receipt = await self.submit(
            Delivery(inbox=_inbox_entry(page), facts=tuple(read.facts), cursor=moved.saved())
        )
        log.info(
            "read %d OFS events (%d new, %d already stored, %d quarantined) up to %s; "
            "next page %s%s",
            read.events,
            receipt.appended,
            len(read.facts) - receipt.appended,
            len(read.bad),
            moved.last_event_time,
            next_page,
            " (the marker does not move on: caught up)" if stuck else "",
        )
        return Outcome(events=len(read.facts), caught_up=stuck)

    async def _set_aside(self, cursor: OfsCursor, page: EventsPage, bad: list[BadEvent]) -> None:
        """Quarantine each bad event of a page on its own."""
        for event in bad:
            entry = _inbox_entry(msgspec.structs.replace(page, body=event.raw))
            reason = f"{event.reason} (an event of the page at {cursor.next_page})"
            await self.submit(Delivery(inbox=entry, rejected=reason))
            log.warning("an OFS event quarantined: %s", reason)

    async def _unreadable(self, cursor: OfsCursor, page: EventsPage, reason: str) -> Outcome:
        """Keep an answer that is not a page, and wait as when caught up."""
        rejected = f"{reason} (the answer at {cursor.next_page})"
        await self.submit(Delivery(inbox=_inbox_entry(page), rejected=rejected))
        log.warning("OFS answered something that is not an Events API page: %s", rejected)
        return Outcome(events=0, caught_up=True)


def ofs_client(
    config: OfsPollerConfig,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], float] | None = None,
) -> OfsClient:
    """A client of the instance, authenticated as the credentials say."""
    auth = config.credentials.auth(config.base_url, clock=clock or time.time)
    return OfsClient(
        config.base_url,
        auth,
        timeout=config.timeout,
        limits=config,
        pace=Pace(config.rate),
        transport=transport,
    )


def _moved(cursor: OfsCursor, next_page: str | None, facts: Sequence[Fact]) -> OfsCursor:
    """The cursor after a page: its marker, and the newest event time seen so far."""
    newest = cursor.last_event_time
    if facts:
        page_newest = format_time(max(fact.event.occurred_at for fact in facts))
        # OFS times compare as text: fixed width, most significant first.
        newest = max(newest or page_newest, page_newest)
    return OfsCursor(
        name=cursor.name,
        subscription_id=cursor.subscription_id,
        next_page=next_page,
        last_event_time=newest,
    )


def _inbox_entry(page: EventsPage) -> InboxEntry:
    return InboxEntry(
        source="ofs",
        kind="events-api",
        body=page.body,
        received_at=datetime.now(UTC),
        message_id="sha256:" + hashlib.sha256(page.body).hexdigest(),
        content_type=page.content_type,
        sender="ofs-poll",
    )


def _gap_delivery(gap: OfsSubscriptionGap, cursor: OfsCursor) -> Delivery:
    """The gap as a payload of its own (what was found out, kept in the inbox),
    its event and the new cursor, in one commit."""
    body = msgspec.json.encode(gap)
    digest = hashlib.sha256(body).hexdigest()
    fact = Fact(event=gap, dedupe_key=f"ofs-gap:{digest}")
    entry = InboxEntry(
        source="ofs",
        kind="subscription-gap",
        body=body,
        received_at=gap.occurred_at,
        message_id=f"sha256:{digest}",
        content_type="application/json",
        sender="ofs-poll",
    )
    return Delivery(inbox=entry, facts=(fact,), cursor=cursor.saved())

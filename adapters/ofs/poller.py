"""`invtrack ofs-poll`: pull OFS inventory events through the Events API.

The rules the poller keeps:

- **One page, one commit.** Each non-empty page is one Delivery: the raw page
  (kept in the inbox as received), its facts, and the cursor (subscription,
  `nextPage` marker, newest event time) commit in one transaction. The cursor
  therefore never moves past events that are not stored, and a restart resumes
  from the stored cursor. A page read again after a crash is an inbox
  duplicate and its events are skipped by their dedupe keys, so every event is
  stored once. An empty page only moves the cursor (if its marker changed).
- **Subscribing.** On the first run the poller subscribes to the ten
  inventory event types and remembers the subscription in its cursor before it
  reads. It asks only for the detail fields the domain models (`DETAIL_FIELDS`):
  any other detail field would become a custom property of the item.
- **Expiry.** OFS drops a subscription unread for 36 hours; reads then answer
  404. The poller subscribes again and asks for the marker `since` one second
  before the newest event time it stored (events of that second read twice
  collapse as duplicates). `page` and `since` are never sent together. With no
  event stored yet, it starts at the new subscription's own marker.
- **Untranslatable page.** A page whose events cannot be translated is kept in
  quarantine with the reason, and the cursor moves past it in the same
  transaction, so one bad event does not stop the flow; `invtrack
  replay-quarantine` retries it after a fix. An answer that is not a page at all
  (not JSON, or events without a `nextPage`) cannot be moved past: it counts as
  OFS being unavailable and is read again after a backoff.
- **Failures.** 429, 5xx, timeouts and broken connections back off with full
  jitter, never sooner than OFS's `Retry-After` (`adapters.pulling`). A failed
  commit backs off the same way and reads the same page again. A refusal (400,
  401, 403, also from the token service) stops the poller with `OfsRejected`:
  credentials or permissions need an operator.
- **Credentials.** Basic, a fixed bearer token, or OAuth 2.0 access tokens
  (`client_credentials` or a JWT assertion) renewed before they expire and once
  after a 401 (`adapters.ofs.oauth`).
- **Stopping.** When the stop event is set, an HTTP exchange in flight is
  abandoned (nothing of it was stored) but a commit in flight is finished.
  With `once`, the poller stops as soon as OFS has nothing newer.

Logs go to the `invtrack.ofs` logger; they name the instance, subscription and
page markers, never a credential.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import httpx

from adapters.ofs.client import EventsPage, OfsClient, OfsUnavailable, SubscriptionGone
from adapters.ofs.oauth import OfsCredentials
from adapters.ofs.translate import TranslationError, format_time, page_next, parse_time, translate
from adapters.pulling import Cursors, Outcome, Patience, Puller, Submit, cursor_name
from adapters.store.records import Cursor, Delivery, InboxEntry
from domain.events import OFS_INVENTORY_EVENTS, Fact

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

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.base_url:
            raise ValueError("the OFS base URL is required")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")

    @property
    def cursor_name(self) -> str:
        """The cursor's name: `name`, else the base URL and the client."""
        derived = f"{self.base_url.rstrip('/')}#{self.credentials.label}"
        return cursor_name(self.name, derived, "ofs-poll:")


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
    ) -> None:
        super().__init__(config, draw)
        self.config = config
        self.store = store
        self.submit = submit
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
        log.info(
            "subscribed to OFS inventory events at %s: subscription %s",
            self.config.base_url,
            cursor.subscription_id,
        )
        return cursor

    async def _resubscribe(self, expired: OfsCursor) -> OfsCursor:
        log.warning(
            "OFS subscription %s is gone (unread for 36 hours, or deleted); subscribing again",
            expired.subscription_id,
        )
        cursor = await self._subscribe(expired.last_event_time)
        log.info(
            "OFS subscription %s replaces %s; resuming %s",
            cursor.subscription_id,
            expired.subscription_id,
            f"after {expired.last_event_time}"
            if expired.last_event_time
            else "at its first page (no event was stored before)",
        )
        return cursor

    async def _subscribe(self, last_event_time: str | None) -> OfsCursor:
        """A new subscription, saved as the cursor. With a stored event time it
        starts just before that time, else at the subscription's own marker."""
        subscription = await self._call(
            self.client.subscribe(INVENTORY_EVENTS, self.config.fields, title=self.config.title)
        )
        next_page = subscription.next_page
        if last_event_time is not None:
            next_page = await self._call(
                self.client.since(subscription.subscription_id, _rewind(last_event_time))
            )
        cursor = OfsCursor(
            name=self.name,
            subscription_id=subscription.subscription_id,
            next_page=next_page,
            last_event_time=last_event_time,
        )
        await self.submit(Delivery(inbox=None, cursor=cursor.saved()))
        return cursor

    async def _store(self, cursor: OfsCursor, page: EventsPage) -> Outcome:
        try:
            next_page = page_next(page.body)
        except TranslationError as error:
            raise OfsUnavailable(f"unexpected answer from OFS: {error}") from None
        try:
            facts, rejected = translate(page.body), None
        except TranslationError as error:
            facts, rejected = [], str(error)
        if not facts and rejected is None:
            if next_page is not None and next_page != cursor.next_page:
                moved = _moved(cursor, next_page, facts)
                await self.submit(Delivery(inbox=None, cursor=moved.saved()))
            log.debug("no new OFS events after page %s", cursor.next_page)
            return Outcome(events=0, caught_up=True)
        if next_page is None:
            raise OfsUnavailable("OFS sent events without a nextPage marker")
        moved = _moved(cursor, next_page, facts)
        entry = _inbox_entry(page)
        if rejected is not None:
            await self.submit(Delivery(inbox=entry, rejected=rejected, cursor=moved.saved()))
            log.warning(
                "OFS page %s quarantined (%s); moving on to page %s",
                cursor.next_page,
                rejected,
                next_page,
            )
            return Outcome(events=0, caught_up=False)
        receipt = await self.submit(Delivery(inbox=entry, facts=tuple(facts), cursor=moved.saved()))
        log.info(
            "read %d OFS events (%d new, %d already stored) up to %s; next page %s",
            len(facts),
            receipt.appended,
            len(facts) - receipt.appended,
            moved.last_event_time,
            next_page,
        )
        return Outcome(events=len(facts), caught_up=False)


def ofs_client(
    config: OfsPollerConfig,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], float] | None = None,
) -> OfsClient:
    """A client of the instance, authenticated as the credentials say."""
    auth = config.credentials.auth(config.base_url, clock=clock or time.time)
    return OfsClient(config.base_url, auth, timeout=config.timeout, transport=transport)


def _moved(cursor: OfsCursor, next_page: str, facts: Sequence[Fact]) -> OfsCursor:
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


def _rewind(last_event_time: str) -> str:
    """One second before the newest stored event: `since` may mean strictly after."""
    return format_time(parse_time(last_event_time) - timedelta(seconds=1))

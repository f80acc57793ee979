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
  jitter (a random delay up to `min_backoff * 2**n`, capped at `max_backoff`),
  never sooner than OFS's `Retry-After`. A failed commit backs off the same way
  and reads the same page again. A refusal (400, 401, 403) stops the poller with
  `OfsRejected`: credentials or permissions need an operator.
- **Stopping.** When the stop event is set, an HTTP exchange in flight is
  abandoned (nothing of it was stored) but a commit in flight is finished.

Logs go to the `invtrack.ofs` logger; they name the instance, subscription and
page markers, never a credential.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol, Self, TypeVar

import httpx

from adapters.ofs.client import (
    BearerAuth,
    EventsPage,
    OfsClient,
    OfsRejected,
    OfsUnavailable,
    SubscriptionGone,
    basic_auth,
)
from adapters.ofs.translate import TranslationError, format_time, page_next, parse_time, translate
from adapters.store.records import Cursor, Delivery, InboxEntry, Receipt
from domain.events import OFS_INVENTORY_EVENTS, Fact

log = logging.getLogger("invtrack.ofs")

T = TypeVar("T")

INVENTORY_EVENTS: Final[tuple[str, ...]] = tuple(OFS_INVENTORY_EVENTS)
"""The event types the poller subscribes to: the ten inventory events."""

DETAIL_FIELDS: Final[tuple[str, ...]] = ("inventoryType", "serialNumber", "quantity", "status")
"""`inventoryDetails` fields asked for: the ones `OfsDetails` models (the id always comes)."""

MAX_LIMIT: Final = 1000
"""The Events API's largest page."""

Submit = Callable[[Delivery], Awaitable[Receipt]]


class Cursors(Protocol):
    """Where the poller reads its saved position (the event store)."""

    async def cursor(self, name: str) -> Cursor | None: ...


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
class OfsPollerConfig:
    """How to reach one OFS instance and how patiently to poll it.

    Authenticate with `client_id`, `instance` and `client_secret` (Basic
    `clientId@instance:secret`) or with an OAuth `token`. `name` identifies the
    cursor; by default it is derived from the URL and the client.
    """

    base_url: str
    client_id: str | None = None
    instance: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    name: str | None = None
    limit: int = MAX_LIMIT
    idle_seconds: float = 10.0
    min_backoff: float = 1.0
    max_backoff: float = 300.0
    max_retry_after: float = 3600.0
    timeout: float = 60.0
    title: str = "invtrack"
    fields: tuple[str, ...] = DETAIL_FIELDS

    def __post_init__(self) -> None:
        if not self.base_url:
            raise ValueError("the OFS base URL is required")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
        basic = (self.client_id, self.instance, self.client_secret)
        if self.token is None and not all(basic):
            raise ValueError("OFS needs a token, or a client id, instance name and client secret")
        if min(self.idle_seconds, self.min_backoff, self.max_backoff, self.timeout) < 0:
            raise ValueError("intervals must not be negative")

    @property
    def cursor_name(self) -> str:
        """The cursor's name: `name`, else the base URL and the client."""
        if self.name:
            return self.name
        client = f"{self.client_id}@{self.instance}" if self.token is None else "token"
        derived = f"{self.base_url.rstrip('/')}#{client}"
        if len(derived) <= 255:
            return derived
        return "ofs-poll:" + hashlib.sha256(derived.encode()).hexdigest()

    def auth(self) -> httpx.Auth:
        if self.token is not None:
            return BearerAuth(self.token)
        if self.client_id is None or self.instance is None or self.client_secret is None:
            raise ValueError("OFS needs a token, or a client id, instance name and client secret")
        return basic_auth(self.client_id, self.instance, self.client_secret)


def backoff_delay(
    failures: int,
    *,
    base: float,
    cap: float,
    retry_after: float | None = None,
    draw: Callable[[], float] = random.random,
) -> float:
    """Full jitter: a uniform delay in [0, min(cap, base * 2**(failures-1))],
    but never less than the server's `Retry-After`."""
    ceiling = min(cap, base * 2.0 ** min(max(failures - 1, 0), 32))
    delay = draw() * ceiling
    return delay if retry_after is None else max(delay, retry_after)


@dataclass(frozen=True)
class _Outcome:
    events: int
    empty: bool


class _Stopped(Exception):
    """The stop event was set while waiting on OFS."""


class OfsPoller:
    """Reads OFS inventory events page by page and submits each page as one Delivery."""

    def __init__(
        self,
        config: OfsPollerConfig,
        store: Cursors,
        submit: Submit,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self.store = store
        self.submit = submit
        self._transport = transport
        self._draw = draw
        self._client: OfsClient | None = None
        self._stop: asyncio.Event | None = None

    @property
    def name(self) -> str:
        return self.config.cursor_name

    @property
    def client(self) -> OfsClient:
        if self._client is None:
            self._client = OfsClient(
                self.config.base_url,
                self.config.auth(),
                timeout=self.config.timeout,
                transport=self._transport,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set: pages back to back while there are events,
        `idle_seconds` apart when there are none, backing off on failures.

        Raises OfsRejected when OFS refuses the credentials or the request.
        """
        self._stop = stop
        failures = 0
        log.info("polling OFS events at %s (cursor %s)", self.config.base_url, self.name)
        try:
            while not stop.is_set():
                try:
                    outcome = await self._poll()
                except _Stopped:
                    break
                except OfsRejected as error:
                    log.error("OFS refused the poller, stopping: %s", error)
                    raise
                except (OfsUnavailable, SubscriptionGone) as error:
                    failures += 1
                    retry_after = getattr(error, "retry_after", None)
                    await self._back_off(failures, str(error), retry_after)
                    continue
                except Exception as error:
                    failures += 1
                    await self._back_off(failures, f"storing failed: {_brief(error)}", None)
                    continue
                failures = 0
                if outcome.empty:
                    await self._pause(self.config.idle_seconds)
        finally:
            self._stop = None
            await self.aclose()
        log.info("stopped polling OFS events at %s", self.config.base_url)

    async def poll_once(self) -> int:
        """Read one page (subscribing first if needed) and commit it; the number
        of events submitted. Failures propagate."""
        return (await self._poll()).events

    async def _poll(self) -> _Outcome:
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

    async def _store(self, cursor: OfsCursor, page: EventsPage) -> _Outcome:
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
            return _Outcome(events=0, empty=True)
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
            return _Outcome(events=0, empty=False)
        receipt = await self.submit(Delivery(inbox=entry, facts=tuple(facts), cursor=moved.saved()))
        log.info(
            "read %d OFS events (%d new, %d already stored) up to %s; next page %s",
            len(facts),
            receipt.appended,
            len(facts) - receipt.appended,
            moved.last_event_time,
            next_page,
        )
        return _Outcome(events=len(facts), empty=False)

    async def _call(self, request: Awaitable[T]) -> T:
        """An exchange with OFS, abandoned when the stop event is set: nothing of
        it is stored yet, so nothing is lost."""
        stop = self._stop
        if stop is None:
            return await request
        exchange = asyncio.ensure_future(request)
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({exchange, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            if not exchange.done():
                exchange.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await exchange
        if exchange.cancelled():
            raise _Stopped
        return exchange.result()

    async def _back_off(self, failures: int, reason: str, retry_after: float | None) -> None:
        if retry_after is not None:
            retry_after = min(retry_after, self.config.max_retry_after)
        delay = backoff_delay(
            failures,
            base=self.config.min_backoff,
            cap=self.config.max_backoff,
            retry_after=retry_after,
            draw=self._draw,
        )
        log.warning("OFS poll failed (%s); retry %d in %.2f s", reason, failures, delay)
        await self._pause(delay)

    async def _pause(self, seconds: float) -> None:
        if self._stop is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)


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


def _brief(error: BaseException) -> str:
    """An error's kind and first line, short: database errors can quote whole statements."""
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {first_line[:200]}" if first_line else type(error).__name__

"""`invtrack sm-poll`: pull InventoryUsage rows through the Export API.

The rules the poller keeps:

- **The cursor is the vendor's `rowver`**, opaque: never compared or counted.
  The first pull starts at `start` (`0`, the documented first call). The
  answer's top-level `rowver` is the next cursor; it is kept when a page comes
  back empty or without one (a page with rows but no top-level `rowver`
  continues from its last row's, which the vendor's example shows equal).
- **One page, one commit.** A page with rows is one Delivery: the raw page (in
  the inbox as received), its ledger lines and the cursor commit in one
  transaction. A restart resumes from the stored cursor; a page read again is
  an inbox duplicate and its lines are skipped by their row keys, which do not
  depend on the channel: a row that came by webhook is not counted again.
- **Each `src`** (`mob` by default; `sch`, `api`) has its own cursor, named
  after the site and the source.
- **Re-extraction.** `start_at` reads again from an older `rowver`; rows
  already stored are recognised and change nothing.
- **Untranslatable page.** Kept in quarantine with the reason, and the cursor
  moves past it in the same transaction; `invtrack replay-quarantine` retries
  it after a fix. A page too deep for the decoder (a row nested thousands of
  levels) is one of them: its `rowver` is still found. An answer that is not
  a page at all (not JSON, not an object with `rows`) is quarantined too; the
  cursor stays and the poller waits as when caught up.
- **Caught up** when a page has no rows, and when the next `rowver` does not
  move or comes back to one this run has read already.
- **Bounds and health** are the puller's (`adapters.puller`): pages per
  `once` run, how long a `once` run waits for an unreachable site.

Logs go to the `invtrack.servicemobility` logger; they name the site, the
source and the cursors, never a credential.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import httpx

from adapters.puller import Puller
from adapters.pulling import Cursors, Outcome, Patience, Submit, cursor_name
from adapters.servicemobility import TranslationError
from adapters.servicemobility_export.auth import SmCredentials
from adapters.servicemobility_export.client import ExportPage, Pace, SmClient, SmUnavailable
from adapters.servicemobility_export.translate import (
    EXPORT_KIND,
    NotAPage,
    read_page,
    row_cursor,
    translate_rows,
)
from adapters.store.records import Cursor, Delivery, InboxEntry
from adapters.vendor_http import usable_url

log = logging.getLogger("invtrack.servicemobility")

SOURCES: Final = ("mob", "sch", "api")
"""The documented `src` values: mobile app, ServiceScheduling, API or portal."""


@dataclass(frozen=True, kw_only=True)
class SmCursor:
    name: str
    rowver: str

    @classmethod
    def of(cls, saved: Cursor, default: str) -> SmCursor:
        return cls(name=saved.name, rowver=saved.state.get("rowver") or default)

    def saved(self) -> Cursor:
        return Cursor(name=self.name, state={"rowver": self.rowver})


@dataclass(frozen=True, kw_only=True)
class SmPollerConfig(Patience):
    """One site's Export API, one `src`, and how patiently to pull it."""

    base_url: str
    credentials: SmCredentials
    src: str = "mob"
    start: str = "0"
    limit: int = 100
    name: str | None = None
    idle_seconds: float = 60.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.base_url:
            raise ValueError("the ServiceMobility base URL is required")
        usable_url(self.base_url, "the ServiceMobility base URL")
        if self.limit < 1:
            raise ValueError("limit must be at least 1")
        if not self.src or not self.start:
            raise ValueError("src and the start rowver must not be empty")

    @property
    def cursor_name(self) -> str:
        """`name`, else `sm-export:{site}#InventoryUsage?src={src}`."""
        derived = f"sm-export:{self.base_url.rstrip('/')}#InventoryUsage?src={self.src}"
        return cursor_name(self.name, derived, "sm-export:")


class SmPoller(Puller):
    """Reads InventoryUsage pages of one `src` and submits each as one Delivery."""

    log = log
    source = "ServiceMobility"

    def __init__(
        self,
        config: SmPollerConfig,
        store: Cursors,
        submit: Submit,
        *,
        pace: Pace | None = None,
        start_at: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        draw: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(config, draw)
        self.config = config
        self.store = store
        self.submit = submit
        self._pace = pace
        self._start_at = start_at
        self._transport = transport
        self._clock = clock
        self._client: SmClient | None = None

    @property
    def name(self) -> str:
        return self.config.cursor_name

    @property
    def client(self) -> SmClient:
        if self._client is None:
            self._client = SmClient(
                self.config.base_url,
                self.config.credentials.auth(self.config.base_url, clock=self._clock),
                pace=self._pace,
                timeout=self.config.timeout,
                limits=self.config,
                transport=self._transport,
            )
        return self._client

    async def _poll(self) -> Outcome:
        cursor = await self._cursor()
        page = await self._call(
            self.client.inventory_usage(
                rowver=cursor.rowver, limit=self.config.limit, src=self.config.src
            )
        )
        self._visit(cursor.rowver)
        outcome = await self._store(cursor, page)
        self._start_at = None
        return outcome

    async def _cursor(self) -> SmCursor:
        if self._start_at is not None:
            return SmCursor(name=self.name, rowver=self._start_at)
        saved = await self.store.cursor(self.name)
        if saved is None:
            return SmCursor(name=self.name, rowver=self.config.start)
        return SmCursor.of(saved, self.config.start)

    async def _store(self, cursor: SmCursor, page: ExportPage) -> Outcome:
        try:
            next_rowver, rows = read_page(page.body)
        except NotAPage as error:
            return await self._unreadable(cursor, page, str(error))
        if not rows:
            moved = SmCursor(name=self.name, rowver=next_rowver or cursor.rowver)
            if moved != cursor or self._start_at is not None:
                await self.submit(Delivery(inbox=None, cursor=moved.saved()))
            log.debug("no new %s rows after rowver %s", self.config.src, cursor.rowver)
            return Outcome(events=0, caught_up=True)
        next_rowver = next_rowver or row_cursor(rows[-1])
        if next_rowver is None:
            raise SmUnavailable("ServiceMobility sent rows without a rowver to continue from")
        stuck = next_rowver == cursor.rowver or self._revisits(next_rowver)
        moved = SmCursor(name=self.name, rowver=cursor.rowver if stuck else next_rowver)
        entry = self._inbox_entry(page)
        try:
            facts = translate_rows(rows)
        except TranslationError as error:
            reason = f"{error.field}: {error.message}"
            await self.submit(Delivery(inbox=entry, rejected=reason, cursor=moved.saved()))
            log.warning(
                "%s page after rowver %s quarantined (%s); moving on to rowver %s",
                self.config.src,
                cursor.rowver,
                reason,
                next_rowver,
            )
            return Outcome(events=0, caught_up=stuck)
        metadata = {
            "source": "servicemobility",
            "messageId": entry.message_id,
            "sender": "sm-poll",
            "export": self.config.src,
        }
        receipt = await self.submit(
            Delivery(inbox=entry, facts=tuple(facts), metadata=metadata, cursor=moved.saved())
        )
        log.info(
            "read %d %s rows (%d ledger lines, %d new) after rowver %s; next rowver %s",
            len(rows),
            self.config.src,
            len(facts),
            receipt.appended,
            cursor.rowver,
            next_rowver,
        )
        # A cursor that does not move (or comes back) cannot lead anywhere new:
        # wait, as when caught up.
        return Outcome(events=len(facts), caught_up=stuck)

    async def _unreadable(self, cursor: SmCursor, page: ExportPage, reason: str) -> Outcome:
        """Keep an answer that is not a page, and wait as when caught up."""
        rejected = f"{reason} (the answer after rowver {cursor.rowver})"
        await self.submit(Delivery(inbox=self._inbox_entry(page), rejected=rejected))
        log.warning(
            "%s: ServiceMobility answered something that is not a page: %s",
            self.config.src,
            rejected,
        )
        return Outcome(events=0, caught_up=True)

    def _inbox_entry(self, page: ExportPage) -> InboxEntry:
        return InboxEntry(
            source="servicemobility",
            kind=EXPORT_KIND,
            body=page.body,
            received_at=datetime.now(UTC),
            message_id="sha256:" + hashlib.sha256(page.body).hexdigest(),
            content_type=page.content_type,
            sender="sm-poll",
        )

"""Reads from a streaming replica of the store, with the primary behind it.

`ReplicaReader` answers the reader side of the port from a replica (a
PostgreSQL hot standby): the projections' queries, the change feed, the
dashboard's and the reconciliations' reads. It reads the primary instead
when the replica cannot be trusted to answer now:

- it lags more than `max_lag` seconds behind the primary (the oldest event it
  lacks was recorded longer ago), cannot be reached, or was promoted (it no
  longer follows the primary); a check runs at most once a second;
- a read on it fails (the read is asked again of the primary);
- the reader asked for a position (`reading_after`) that the replica does
  not show within `wait` seconds.

A replica applies the primary's commits in commit order, and appends commit
in position order (the append lock), so a replica shows a prefix of the
primary's committed history: the feed read there is as gap-free as on the
primary, only behind. A projection's queries on the replica find the active
slot on the replica itself (the registry row and the tables a rebuild filled
arrive in the order they committed), so a switch is seen there only once the
new tables are complete there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, TypeVar

import msgspec

from adapters.store.feed import FeedPage, FeedQuery
from adapters.store.port import Reader
from adapters.store.queries import Query
from adapters.store.recently import Recently
from adapters.store.records import (
    Cursor,
    InboxRecord,
    InboxStatus,
    KeptPayload,
    Received,
    ReconciliationSummary,
    Registered,
    RowConflict,
    Slot,
    StoredEvent,
)
from adapters.store.replica_status import ReplicaState, ReplicaStatus
from domain.reconciliation import Reconciliation

T = TypeVar("T")
log = logging.getLogger("invtrack.replica")

WAIT_SECONDS: Final = 2.0
"""How long a read that asks for a position waits for the replica to show it."""
MAX_LAG_SECONDS: Final = 10.0
"""A replica further behind than this is not read."""
CHECK_SECONDS: Final = 1.0
"""How often the replica's state is checked (at most)."""
CHECK_TIMEOUT: Final = 2.0
POLL_SECONDS: Final = 0.01
"""How often a read waiting for a position looks at the replica's head."""


@dataclass
class _Wanted:
    position: int
    feed_position: int = 0
    source: Reader | None = None
    """Where this request's reads go, once decided."""


_WANTED: ContextVar[_Wanted | None] = ContextVar("invtrack_min_position", default=None)


@contextlib.contextmanager
def reading_after(position: int = 0, *, feed_position: int = 0) -> Iterator[None]:
    """Reads made inside see at least the event `position` (a write's
    `Invtrack-Position`) and the feed's `feed_position`: on the replica once
    it shows them, else on the primary."""
    token = _WANTED.set(_Wanted(position, feed_position))
    try:
        yield
    finally:
        _WANTED.reset(token)


class ReplicaReader:
    """The reader side on a replica, falling back to the primary (module doc)."""

    def __init__(
        self,
        primary: Reader,
        replica: Reader,
        *,
        in_recovery: Callable[[], Awaitable[bool]],
        close_replica: Callable[[], Awaitable[None]],
        max_lag: float = MAX_LAG_SECONDS,
        wait: float = WAIT_SECONDS,
        on_fallback: Callable[[str], None] | None = None,
    ) -> None:
        self.primary = primary
        self.replica = replica
        self.upcast = primary.upcast
        self.max_lag = max_lag
        self.wait = wait
        self._in_recovery = in_recovery
        self._close_replica = close_replica
        self._on_fallback = on_fallback
        self._fallbacks: Counter[str] = Counter()
        self._status = ReplicaStatus(state="following", lag_seconds=None, head=None, fallbacks={})
        self._checked_at = -CHECK_SECONDS
        self._checking = asyncio.Lock()
        self._shown = 0
        """The highest position the replica was seen to show."""
        self._head = Recently(replica.head, POLL_SECONDS)
        self._feed_head = Recently(replica.feed_head, POLL_SECONDS)

    # ---- the replica's state ---------------------------------------------------------

    async def replica_status(self) -> ReplicaStatus:
        await self._checked()
        return msgspec.structs.replace(self._status, fallbacks=dict(self._fallbacks))

    async def _checked(self) -> ReplicaStatus:
        if time.monotonic() - self._checked_at < CHECK_SECONDS:
            return self._status
        async with self._checking:
            if time.monotonic() - self._checked_at >= CHECK_SECONDS:
                status = await self._check()
                if status.state != "following":
                    self._shown = 0  # what comes back may be another copy
                self._report(status)
                self._status = status
                self._checked_at = time.monotonic()
        return self._status

    async def _check(self) -> ReplicaStatus:
        try:
            recovering, head = await self._standby()
        except Exception as error:  # unreachable, starting up, shutting down
            return _status("down", None, None, f"it cannot be read ({_said(error)})")
        if not recovering:
            return _status("promoted", None, None, "it was promoted: it follows no primary")
        self._shown = max(self._shown, head)
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                lag = await self._lag(head)
        except Exception:  # the primary does not answer: the replica still can
            return _status("following", None, head, "the primary cannot be asked how far behind")
        if lag > self.max_lag:
            return _status("lagging", lag, head, f"it lags {lag:.1f} s behind the primary")
        return _status("following", lag, head, None)

    async def _standby(self) -> tuple[bool, int]:
        """Whether it is a standby, and its head; asked again once when the
        first try fails (on a connection it had ended, say)."""
        try:
            return await self._ask_standby()
        except Exception:
            return await self._ask_standby()

    async def _ask_standby(self) -> tuple[bool, int]:
        async with asyncio.timeout(CHECK_TIMEOUT):
            return await self._in_recovery(), await self.replica.head()

    async def _lag(self, replica_head: int) -> float:
        missing = await self.primary.read_events(after=replica_head, limit=1)
        if not missing:
            return 0.0
        return max(0.0, (datetime.now(UTC) - missing[0].recorded_at).total_seconds())

    def _report(self, status: ReplicaStatus) -> None:
        if status.state == self._status.state:
            return
        if status.state == "following":
            log.warning("replica following again: reads go to the replica")
        else:
            log.warning("replica %s: %s; reads go to the primary", status.state, status.reason)

    def _fell_back(self, reason: str) -> Reader:
        self._fallbacks[reason] += 1
        if self._on_fallback is not None:
            self._on_fallback(reason)
        return self.primary

    # ---- where a read goes ----------------------------------------------------------

    async def _source(self) -> Reader:
        status = await self._checked()
        if status.state != "following":
            return self._fell_back(status.state)
        wanted = _WANTED.get()
        if wanted is None:
            return self.replica
        if wanted.source is None:
            wanted.source = await self._showing(wanted)
        return wanted.source if wanted.source is self.replica else self._fell_back("behind")

    async def _showing(self, wanted: _Wanted) -> Reader:
        """The replica once it shows what is wanted; the primary when it does
        not within `wait` seconds."""
        deadline = time.monotonic() + self.wait
        while True:
            try:
                if await self._shows(wanted):
                    return self.replica
            except Exception:  # the read falls back like any other
                return self.primary
            if time.monotonic() >= deadline:
                log.info("replica does not show position %d yet: read the primary", wanted.position)
                return self.primary
            await asyncio.sleep(POLL_SECONDS)

    async def _shows(self, wanted: _Wanted) -> bool:
        if self._shown < wanted.position:
            self._shown = max(self._shown, await self._head.get())
        if self._shown < wanted.position:
            return False
        return wanted.feed_position == 0 or await self._feed_head.get() >= wanted.feed_position

    async def _read(self, call: Callable[[Reader], Awaitable[T]]) -> T:
        source = await self._source()
        if source is self.primary:
            return await call(self.primary)
        try:
            return await call(self.replica)
        except Exception as error:  # asked again of the primary
            log.warning("a read on the replica failed (%s): read the primary", _said(error))
            self._checked_at = -CHECK_SECONDS  # look at it again before the next read
            return await call(self._fell_back("error"))

    async def close(self) -> None:
        await self._close_replica()

    # ---- the change feed ------------------------------------------------------------

    async def read_feed(self, query: FeedQuery) -> FeedPage:
        return await self._read(lambda reader: reader.read_feed(query))

    async def wait_for_feed(self, after: int, seconds: float) -> int:
        """The primary hears commits (a standby cannot listen); then the
        replica is given the rest of the time to show them."""
        deadline = time.monotonic() + seconds
        head = await self.primary.wait_for_feed(after, seconds)
        if head <= after or await self._source() is self.primary:
            return head
        while True:
            try:
                shown = await self._feed_head.get()
            except Exception:
                return head
            if shown > after or time.monotonic() >= deadline:
                return shown
            await asyncio.sleep(POLL_SECONDS)

    async def feed_head(self) -> int:
        return await self._read(lambda reader: reader.feed_head())

    async def feed_recorded_before(self, moment: datetime) -> int:
        return await self._read(lambda reader: reader.feed_recorded_before(moment))

    # ---- events -----------------------------------------------------------------------

    async def read_events(self, after: int = 0, limit: int = 1000) -> list[StoredEvent]:
        return await self._read(lambda reader: reader.read_events(after, limit))

    async def read_stream(
        self, stream_id: str, *, to_position: int | None = None, to_time: datetime | None = None
    ) -> list[StoredEvent]:
        return await self._read(
            lambda reader: reader.read_stream(stream_id, to_position=to_position, to_time=to_time)
        )

    async def read_positions(self, positions: Sequence[int]) -> list[StoredEvent]:
        return await self._read(lambda reader: reader.read_positions(positions))

    async def head(self) -> int:
        return await self._read(lambda reader: reader.head())

    async def count(self) -> int:
        return await self._read(lambda reader: reader.count())

    async def count_after(self, position: int) -> int:
        return await self._read(lambda reader: reader.count_after(position))

    # ---- projections ------------------------------------------------------------------

    async def fetch(self, query: Query[T]) -> T:
        return await self._read(lambda reader: reader.fetch(query))

    async def active_slots(self) -> dict[str, Slot]:
        return await self._read(lambda reader: reader.active_slots())

    async def registered(self) -> list[Registered]:
        return await self._read(lambda reader: reader.registered())

    # ---- the inbox ----------------------------------------------------------------------

    async def inbox_entry(self, inbox_id: int) -> InboxRecord | None:
        return await self._read(lambda reader: reader.inbox_entry(inbox_id))

    async def inbox_entries(
        self, status: InboxStatus, *, after: int = 0, limit: int = 100
    ) -> list[InboxRecord]:
        return await self._read(
            lambda reader: reader.inbox_entries(status, after=after, limit=limit)
        )

    async def inbox_counts(self) -> dict[str, int]:
        return await self._read(lambda reader: reader.inbox_counts())

    async def inbox_head(self) -> int:
        return await self._read(lambda reader: reader.inbox_head())

    async def received_from(self, sender: str, *, after_id: int, after_position: int) -> Received:
        return await self._read(
            lambda reader: reader.received_from(
                sender, after_id=after_id, after_position=after_position
            )
        )

    async def received_per_minute(self, since: datetime) -> dict[datetime, int]:
        return await self._read(lambda reader: reader.received_per_minute(since))

    async def kept_payloads(
        self, status: InboxStatus, *, after: int = 0, limit: int = 100, head: int
    ) -> list[KeptPayload]:
        return await self._read(
            lambda reader: reader.kept_payloads(status, after=after, limit=limit, head=head)
        )

    async def body_size(self, inbox_id: int) -> int | None:
        return await self._read(lambda reader: reader.body_size(inbox_id))

    async def body_chunks(self, inbox_id: int, size: int) -> AsyncIterator[bytes]:
        """From one side throughout (a body is never changed once kept)."""
        source = await self._source()
        async for chunk in source.body_chunks(inbox_id, size):
            yield chunk

    async def quarantine_totals(self) -> tuple[int, int]:
        return await self._read(lambda reader: reader.quarantine_totals())

    # ---- conflicts, cursors, reconciliations ------------------------------------------

    async def conflict_count(self) -> int:
        return await self._read(lambda reader: reader.conflict_count())

    async def conflicts(self, *, before: int | None = None, limit: int = 20) -> list[RowConflict]:
        return await self._read(lambda reader: reader.conflicts(before=before, limit=limit))

    async def conflict(self, conflict_id: int) -> RowConflict | None:
        return await self._read(lambda reader: reader.conflict(conflict_id))

    async def cursors(self, prefix: str) -> list[Cursor]:
        return await self._read(lambda reader: reader.cursors(prefix))

    async def reconciliations(
        self, *, before: int | None = None, limit: int = 100
    ) -> list[Reconciliation]:
        return await self._read(lambda reader: reader.reconciliations(before=before, limit=limit))

    async def reconciliation_summary(self) -> list[ReconciliationSummary]:
        return await self._read(lambda reader: reader.reconciliation_summary())


def _status(
    state: ReplicaState, lag: float | None, head: int | None, reason: str | None
) -> ReplicaStatus:
    return ReplicaStatus(state=state, lag_seconds=lag, head=head, fallbacks={}, reason=reason)


def _said(error: BaseException) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__

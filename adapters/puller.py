"""The loop every vendor puller runs: page after page while there is more,
`idle_seconds` apart once caught up, backing off on failures, until stopped or,
with `once`, caught up.

- **Caught up** when the source has nothing newer, and also when the cursor
  does not move or comes back to one already read in this run: a cursor that
  leads nowhere new cannot give anything new.
- **Bounded.** A `once` run reads at most `max_pages` pages (then stops and
  says so: the next run goes on from the saved cursor), and gives up with
  `Unreachable` once the vendor (or the store) has failed for `max_wait`
  seconds in a row; no exchange of a `once` run waits past that either. The
  long-running mode keeps retrying.
- **Health.** Failures in a row are kept as the puller's health (failing
  since, the last error) and saved in the store as the cursor
  `health:<cursor name>` whenever that changes, so `invtrack status`,
  `/ready` and `/metrics` show it from any process.
- **Stopping.** When the stop event is set, an HTTP exchange in flight is
  abandoned (nothing of it was stored) but a commit in flight is finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, Protocol, Self, TypeVar

from adapters.pulling import (
    Outcome,
    Patience,
    Rejected,
    Stopped,
    Submit,
    Unavailable,
    Unreachable,
    brief,
)
from adapters.store.records import Cursor, Delivery

T = TypeVar("T")

HEALTH_PREFIX: Final = "health:"
"""Names of the cursors that hold pullers' health."""


@dataclass(kw_only=True)
class Health:
    """How a puller is doing: failing since when (None: not failing), and the
    last error."""

    name: str
    source: str
    failing_since: datetime | None = None
    last_error: str | None = None

    def saved(self) -> Cursor:
        """As the store keeps it (a cursor of its own)."""
        return Cursor(
            name=HEALTH_PREFIX + self.name,
            state={
                "source": self.source,
                "failing_since": _iso(self.failing_since),
                "last_error": self.last_error,
            },
        )

    @classmethod
    def of(cls, saved: Cursor) -> Health:
        state = saved.state
        return cls(
            name=saved.name.removeprefix(HEALTH_PREFIX),
            source=state.get("source") or "",
            failing_since=_time(state.get("failing_since")),
            last_error=state.get("last_error"),
        )


@dataclass
class _Run:
    """One run's bookkeeping: pages read, cursors seen, when a `once` run gives up."""

    once: bool
    pages: int = 0
    failures: int = 0
    seen: set[str] = field(default_factory=set)
    give_up_at: float | None = None


class _OutOfTime(Unavailable):
    """A `once` run's exchange cut at the end of `max_wait`."""


class _Closable(Protocol):
    async def aclose(self) -> None: ...


class Puller(ABC):
    """Polls a source until stopped. Subclasses say how one page is read and
    stored (`_poll`), wrap every exchange with the vendor in `_call` so a stop
    (or a `once` run's bound) abandons it, note each cursor they read at
    (`_visit`) and ask whether a next cursor came back (`_revisits`)."""

    log: logging.Logger
    source: str = "the source"
    submit: Submit

    def __init__(self, patience: Patience, draw: Callable[[], float] = random.random) -> None:
        self.patience = patience
        self._draw = draw
        self._stop: asyncio.Event | None = None
        self._client: _Closable | None = None
        self._run = _Run(once=False)
        self._health: Health | None = None

    @property
    @abstractmethod
    def name(self) -> str:
        """The name of the puller's cursor."""

    @property
    def health(self) -> Health:
        if self._health is None:
            self._health = Health(name=self.name, source=self.source)
        return self._health

    @abstractmethod
    async def _poll(self) -> Outcome:
        """Read one page and commit it with the cursor."""

    async def aclose(self) -> None:
        """Release the HTTP client, if one was made."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def poll_once(self) -> int:
        """Read one page and commit it; the number of events submitted. Failures propagate."""
        return (await self._poll()).events

    async def run(self, stop: asyncio.Event, *, once: bool = False) -> None:
        """Poll until `stop` is set, or with `once` until the source has nothing newer.

        Raises Rejected when the vendor refuses the credentials or the request,
        and, with `once`, Unreachable when it stays unavailable for `max_wait`.
        """
        self._stop = stop
        self._run = _Run(once=once)
        self.log.info("pulling from %s (cursor %s)", self.source, self.name)
        try:
            while not stop.is_set() and not self._bounded():
                if not await self._step():
                    break
        finally:
            self._stop = None
            await self.aclose()
        self.log.info("stopped pulling from %s", self.source)

    async def _step(self) -> bool:
        """One poll and what follows it; False when the run is over."""
        run = self._run
        if run.once and run.give_up_at is None:
            run.give_up_at = time.monotonic() + self.patience.max_wait
        try:
            outcome = await self._poll()
        except Stopped:
            return False
        except Rejected as error:
            self.log.error("%s refused the poller, stopping: %s", self.source, error)
            raise
        except _OutOfTime as error:
            # The run's time is up (`_failed` says so): the error worth
            # reporting is the one before, if any.
            await self._failed(self.health.last_error or str(error), None)
            return False
        except Unavailable as error:
            await self._failed(str(error), error.retry_after)
            return True
        except Exception as error:
            await self._failed(f"storing failed: {brief(error)}", None)
            return True
        await self._succeeded()
        if not outcome.caught_up:
            run.pages += 1
            return True
        if run.once:
            return False
        run.seen.clear()
        await self._pause(self.patience.idle_seconds)
        return True

    def _bounded(self) -> bool:
        """Whether a `once` run has read as many pages as it may."""
        run = self._run
        if not run.once or run.pages < self.patience.max_pages:
            return False
        self.log.warning(
            "read %d pages from %s in this run, the most one run reads "
            "(INVTRACK_VENDOR_MAX_PAGES); the next run goes on from the saved cursor",
            run.pages,
            self.source,
        )
        return True

    def _visit(self, cursor: str | None) -> None:
        """Note that this run reads the page at `cursor`."""
        seen = self._run.seen
        if cursor is None or cursor in seen:
            return
        if len(seen) >= self.patience.max_pages:
            seen.clear()
        seen.add(cursor)

    def _revisits(self, cursor: str) -> bool:
        """Whether this run has read the page at `cursor` already: a cursor
        that comes back leads nowhere new."""
        return cursor in self._run.seen

    async def _failed(self, reason: str, retry_after: float | None) -> None:
        run = self._run
        run.failures += 1
        health = self.health
        changed = health.failing_since is None or health.last_error != reason
        if health.failing_since is None:
            health.failing_since = datetime.now(UTC)
        health.last_error = reason
        if changed:
            await self._save_health()
        delay = self.patience.delay(run.failures, retry_after, self._draw)
        if run.give_up_at is not None:
            left = run.give_up_at - time.monotonic()
            if left <= 0:
                raise self._given_up(reason)
            delay = min(delay, left)
        self.log.warning("poll failed (%s); retry %d in %.2f s", reason, run.failures, delay)
        await self._pause(delay)

    def _given_up(self, reason: str) -> Unreachable:
        return Unreachable(
            f"{self.source} could not be read for {self.patience.max_wait:g} s "
            f"(--max-wait): {reason}"
        )

    async def _succeeded(self) -> None:
        run, health = self._run, self.health
        run.failures = 0
        run.give_up_at = None
        if health.failing_since is not None:
            self.log.info("%s answers again (failing since %s)", self.source, health.failing_since)
            health.failing_since = None
            health.last_error = None
            await self._save_health()

    async def _save_health(self) -> None:
        """Keep the health where other processes see it; a store that cannot
        take it now is no reason to stop."""
        try:
            await self.submit(Delivery(inbox=None, cursor=self.health.saved()))
        except Exception as error:
            self.log.debug("could not save the health of %s: %s", self.name, brief(error))

    async def _call(self, request: Awaitable[T]) -> T:
        """An exchange with the vendor, abandoned when the stop event is set
        (nothing of it is stored yet, so nothing is lost) or when a `once` run
        has waited as long as it may."""
        stop = self._stop
        if stop is None:
            return await request
        exchange = asyncio.ensure_future(request)
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait(
                {exchange, stopped}, timeout=self._left(), return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            stopped.cancel()
            if not exchange.done():
                exchange.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await exchange
        if exchange.cancelled():
            if stop.is_set():
                raise Stopped
            raise _OutOfTime(f"no answer within {self.patience.max_wait:g} s")
        return exchange.result()

    def _left(self) -> float | None:
        give_up_at = self._run.give_up_at
        return None if give_up_at is None else max(0.0, give_up_at - time.monotonic())

    async def _pause(self, seconds: float) -> None:
        if self._stop is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None

"""What every puller of a vendor API shares: how the vendor says "later" or
"no", how long to wait before asking again, and the loop that reads page after
page until it is stopped or, with `once`, caught up.

- `Unavailable`: worth retrying later (429, 5xx, timeouts, broken connections,
  garbled answers), never before the vendor's `Retry-After`.
- `Rejected`: the vendor refused the request (bad credentials, no permission,
  a bad request); retrying will not help, an operator must act.
- Waiting is full jitter: a random delay up to `min_backoff * 2**n`, capped at
  `max_backoff`, never shorter than `Retry-After` (itself capped at
  `max_retry_after`).
- Stopping: when the stop event is set, an HTTP exchange in flight is abandoned
  (nothing of it was stored) but a commit in flight is finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import random
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Protocol, Self, TypeVar

import httpx

from adapters.store.records import Cursor, Delivery, Receipt

T = TypeVar("T")


class Unavailable(Exception):
    """The vendor cannot answer now; try again later, not before `retry_after` seconds."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class Rejected(Exception):
    """The vendor refused the request: retrying will not help."""

    vendor: ClassVar[str] = "the vendor"

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{self.vendor} answered {status}: {detail}")
        self.status = status
        self.detail = detail


def failure(
    response: httpx.Response,
    what: str,
    detail: str,
    *,
    unavailable: type[Unavailable],
    rejected: type[Rejected],
) -> Unavailable | Rejected:
    """The error an answer other than 2xx stands for: 429 and 5xx are worth
    retrying after the server's `Retry-After`, any other status is a refusal."""
    status = response.status_code
    if status == 429 or status >= 500:
        return unavailable(
            f"{what} answered {status}: {detail}",
            retry_after=retry_after_seconds(response.headers.get("retry-after")),
        )
    return rejected(status, detail)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A `Retry-After` header (delta-seconds or HTTP-date) in seconds from now."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    return max(0.0, seconds) if math.isfinite(seconds) else None


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


def brief(error: BaseException) -> str:
    """An error's kind and first line, short: database errors can quote whole statements."""
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {first_line[:200]}" if first_line else type(error).__name__


@dataclass(frozen=True, kw_only=True)
class Patience:
    """How patiently a puller asks: the pause after catching up, the backoff
    bounds, the longest `Retry-After` obeyed, and the HTTP timeout."""

    idle_seconds: float = 10.0
    min_backoff: float = 1.0
    max_backoff: float = 300.0
    max_retry_after: float = 3600.0
    timeout: float = 60.0

    def __post_init__(self) -> None:
        if min(self.idle_seconds, self.min_backoff, self.max_backoff, self.timeout) < 0:
            raise ValueError("intervals must not be negative")

    def delay(
        self, failures: int, retry_after: float | None, draw: Callable[[], float] = random.random
    ) -> float:
        """How long to wait after the `failures`-th failure in a row."""
        if retry_after is not None:
            retry_after = min(retry_after, self.max_retry_after)
        return backoff_delay(
            failures,
            base=self.min_backoff,
            cap=self.max_backoff,
            retry_after=retry_after,
            draw=draw,
        )


async def patiently(
    call: Callable[[], Awaitable[T]],
    patience: Patience,
    *,
    attempts: int,
    log: logging.Logger,
    draw: Callable[[], float] = random.random,
) -> T:
    """`call()`, tried again after the backoff while the vendor is unavailable,
    at most `attempts` times in all; Rejected goes up at once."""
    failures = 0
    while True:
        try:
            return await call()
        except Unavailable as error:
            failures += 1
            if failures >= attempts:
                raise
            delay = patience.delay(failures, error.retry_after, draw)
            log.warning("%s; retry %d in %.2f s", error, failures, delay)
            await asyncio.sleep(delay)


def vendor_http(
    base_url: str,
    auth: httpx.Auth,
    timeout: float,
    transport: httpx.AsyncBaseTransport | None,
    **options: Any,
) -> httpx.AsyncClient:
    """The connection pool to one vendor site: JSON answers, invtrack as the agent."""
    return httpx.AsyncClient(
        base_url=base_url.rstrip("/"),
        auth=auth,
        timeout=timeout,
        transport=transport,
        headers={"Accept": "application/json", "User-Agent": "invtrack"},
        **options,
    )


def cursor_name(name: str | None, derived: str, prefix: str) -> str:
    """`name` when given, else `derived`; one longer than a cursor name may be
    (255) becomes `prefix` and its SHA-256."""
    if name:
        return name
    if len(derived) <= 255:
        return derived
    return prefix + hashlib.sha256(derived.encode()).hexdigest()


Submit = Callable[[Delivery], Awaitable[Receipt]]
"""How a puller commits what it read (`Ingestor.submit`)."""


class Cursors(Protocol):
    """Where a puller reads its saved position (the event store)."""

    async def cursor(self, name: str) -> Cursor | None: ...


@dataclass(frozen=True)
class Outcome:
    """What one poll did: events submitted, and whether the source has nothing newer."""

    events: int
    caught_up: bool


class Stopped(Exception):
    """The stop event was set while waiting on the vendor."""


class _Closable(Protocol):
    async def aclose(self) -> None: ...


class Puller(ABC):
    """Polls a source until stopped: pages back to back while there is more,
    `idle_seconds` apart once caught up, backing off on failures.

    Subclasses say how one page is read and stored (`_poll`), and wrap every
    exchange with the vendor in `_call` so a stop abandons it.
    """

    log: logging.Logger
    source: str = "the source"

    def __init__(self, patience: Patience, draw: Callable[[], float] = random.random) -> None:
        self.patience = patience
        self._draw = draw
        self._stop: asyncio.Event | None = None
        self._client: _Closable | None = None

    @property
    @abstractmethod
    def name(self) -> str:
        """The name of the puller's cursor."""

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

        Raises Rejected when the vendor refuses the credentials or the request.
        """
        self._stop = stop
        failures = 0
        self.log.info("pulling from %s (cursor %s)", self.source, self.name)
        try:
            while not stop.is_set():
                try:
                    outcome = await self._poll()
                except Stopped:
                    break
                except Rejected as error:
                    self.log.error("%s refused the poller, stopping: %s", self.source, error)
                    raise
                except Unavailable as error:
                    failures += 1
                    await self._back_off(failures, str(error), error.retry_after)
                    continue
                except Exception as error:
                    failures += 1
                    await self._back_off(failures, f"storing failed: {brief(error)}", None)
                    continue
                failures = 0
                if outcome.caught_up:
                    if once:
                        break
                    await self._pause(self.patience.idle_seconds)
        finally:
            self._stop = None
            await self.aclose()
        self.log.info("stopped pulling from %s", self.source)

    async def _call(self, request: Awaitable[T]) -> T:
        """An exchange with the vendor, abandoned when the stop event is set:
        nothing of it is stored yet, so nothing is lost."""
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
            raise Stopped
        return exchange.result()

    async def _back_off(self, failures: int, reason: str, retry_after: float | None) -> None:
        delay = self.patience.delay(failures, retry_after, self._draw)
        self.log.warning("poll failed (%s); retry %d in %.2f s", reason, failures, delay)
        await self._pause(delay)

    async def _pause(self, seconds: float) -> None:
        if self._stop is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)

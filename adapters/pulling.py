"""What every puller of a vendor API shares: how the vendor says "later" or
"no", how long to wait before asking again, and how far one run may go (the
loop that reads page after page is `adapters.puller`).

- `Unavailable`: worth retrying later (429, 5xx, timeouts, broken connections,
  garbled answers), never before the vendor's `Retry-After`.
- `Rejected`: the vendor refused the request (bad credentials, no permission,
  a bad request); retrying will not help, an operator must act.
- Waiting is full jitter: a random delay up to `min_backoff * 2**n`, capped at
  `max_backoff`, never shorter than `Retry-After` (itself capped at
  `max_retry_after`).
- Every exchange is bounded (`adapters.vendor_http`): an answer over the
  size cap or past the deadline is `Unavailable` too, with a reason that
  names the setting.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Final, Protocol, TypeVar

import httpx

from adapters.store.records import Cursor, Delivery, Receipt
from adapters.vendor_http import AnswerLimits, AnswerTooLarge, Overdue, exchange

DEFAULT_MAX_PAGES: Final = 10_000
"""Pages one `once` run of a puller, or one reconciliation, reads at most."""
DEFAULT_MAX_WAIT: Final = 60.0
"""Seconds a `once` run waits for an unreachable vendor before it gives up."""

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


async def send(
    http: httpx.AsyncClient,
    method: str,
    path: str,
    limits: AnswerLimits,
    unavailable: type[Unavailable],
    **options: Any,
) -> httpx.Response:
    """One exchange within the limits, its answer read; what goes wrong on the
    way (no connection, a timeout, an answer too large or too slow) is `unavailable`."""
    try:
        return await exchange(http, method, path, limits, **options)
    except httpx.TimeoutException as error:
        raise unavailable(f"{method} {path} timed out ({type(error).__name__})") from None
    except httpx.TransportError as error:
        raise unavailable(f"{method} {path} failed: {type(error).__name__}") from None
    except (AnswerTooLarge, Overdue) as error:
        raise unavailable(f"{method} {path}: {error}") from None


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
class Patience(AnswerLimits):
    """How patiently a puller asks: the pause after catching up, the backoff
    bounds, the longest `Retry-After` obeyed, the per-read HTTP timeout, the
    answer size cap and the deadline of one exchange (`AnswerLimits`), the
    most pages one `once` run (or one reconciliation) reads, and, with `once`,
    how long the vendor may stay unreachable before the run gives up."""

    idle_seconds: float = 10.0
    min_backoff: float = 1.0
    max_backoff: float = 300.0
    max_retry_after: float = 3600.0
    timeout: float = 60.0
    max_pages: int = DEFAULT_MAX_PAGES
    max_wait: float = DEFAULT_MAX_WAIT

    def __post_init__(self) -> None:
        super().__post_init__()
        if min(self.idle_seconds, self.min_backoff, self.max_backoff, self.timeout) < 0:
            raise ValueError("intervals must not be negative")
        if self.max_pages < 1:
            raise ValueError("the page bound must be at least 1")
        if not self.max_wait > 0:
            raise ValueError("the longest wait for an unreachable vendor must be positive")

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


class Unreachable(Exception):
    """A `once` run gave up: the vendor stayed unavailable (or the store failed)
    for longer than `max_wait`."""


Params = Mapping[str, str | int]

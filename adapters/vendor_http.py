"""How invtrack talks HTTP to a vendor: one connection pool per site, every
answer read with a size cap and every exchange with an overall deadline, and
requests paced so a vendor's rate limit is kept.

- **Size cap.** An answer body is read as a stream and the reading stops as
  soon as it passes `max_bytes` (`AnswerTooLarge`); a `Content-Length` over
  the cap is refused before a byte of the body is read. The cap counts the
  decoded bytes, so a compressed answer cannot expand past it either.
- **Deadline.** `deadline` bounds a whole exchange: connecting, a token
  request the auth flow makes first, the headers and the whole body. httpx's
  own timeout is per read, so a vendor sending a byte every few seconds would
  otherwise hold the reader for as long as it likes (`Overdue`).
- **Pace.** At most `limit` requests in any `window` seconds to one key (a
  path, or the whole site), and none before the site's window resets once it
  says no request is left (`X-RateLimit-Remaining: 0` until
  `X-RateLimit-Reset`).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx

DEFAULT_MAX_BYTES: Final = 32 * 1024 * 1024
"""Largest vendor answer read, by default (an OFS page of 1,000 events is about 2 MiB)."""
DEFAULT_DEADLINE: Final = 120.0
"""Longest one exchange with a vendor may take, by default, in seconds."""
_SLACK: Final = 1e-9
"""Seconds of rounding error ignored when comparing times."""
_UNREAD_HEADERS: Final = frozenset({"content-encoding", "content-length", "transfer-encoding"})


class AnswerTooLarge(Exception):
    """The vendor's answer is larger than the configured cap; reading stopped there."""

    def __init__(self, cap: int, declared: int | None = None) -> None:
        size = f"{declared:,} bytes" if declared is not None else f"more than {cap:,} bytes"
        super().__init__(
            f"the answer is {size}, over the cap of {cap:,} (INVTRACK_VENDOR_MAX_BYTES)"
        )
        self.cap = cap


class Overdue(Exception):
    """The exchange did not finish within its deadline."""

    def __init__(self, deadline: float) -> None:
        super().__init__(
            f"the answer did not arrive whole within {deadline:g} s (INVTRACK_VENDOR_DEADLINE)"
        )
        self.deadline = deadline


@dataclass(frozen=True, kw_only=True)
class AnswerLimits:
    """How large an answer may be and how long an exchange may take."""

    max_bytes: int = DEFAULT_MAX_BYTES
    deadline: float = DEFAULT_DEADLINE

    def __post_init__(self) -> None:
        if self.max_bytes < 1:
            raise ValueError("the answer size cap must be at least 1 byte")
        if not self.deadline > 0:
            raise ValueError("the deadline of an exchange must be positive")


async def read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    """The body of a streamed answer, read up to `max_bytes`; AnswerTooLarge past it."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise AnswerTooLarge(max_bytes, int(declared))
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise AnswerTooLarge(max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def read_answer(response: httpx.Response, body: bytes) -> httpx.Response:
    """A response holding `body` (already read and decoded), for code that reads `.content`."""
    headers = [
        (name, value)
        for name, value in response.headers.multi_items()
        if name.lower() not in _UNREAD_HEADERS
    ]
    return httpx.Response(
        response.status_code,
        headers=headers,
        content=body,
        request=response.request,
        extensions={"reason_phrase": response.reason_phrase.encode("ascii", "replace")},
    )


async def exchange(
    http: httpx.AsyncClient, method: str, url: str, limits: AnswerLimits, **options: Any
) -> httpx.Response:
    """Send a request and read its answer within the limits; the answer comes
    back fully read. Raises AnswerTooLarge, Overdue, or httpx's errors."""
    try:
        async with asyncio.timeout(limits.deadline):
            async with http.stream(method, url, **options) as response:
                body = await read_capped(response, limits.max_bytes)
    except TimeoutError:
        raise Overdue(limits.deadline) from None
    return read_answer(response, body)


class Pace:
    """At most `limit` requests in any `window` seconds to one key, and none
    before the server's window resets once it says no request is left.

    The default window is a little over a second: the server counts a request
    when it arrives, and requests do not all take the same time to get there.
    """

    def __init__(
        self,
        limit: int = 15,
        *,
        window: float = 1.05,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if limit < 1:
            raise ValueError("the request rate must be at least 1 a second")
        self.limit = limit
        self.window = window
        self.clock = clock
        self.sleep = sleep
        self._sent: dict[str, deque[float]] = {}
        self._closed_until: dict[str, float] = {}

    async def wait(self, key: str) -> None:
        """Wait until a request counted under `key` keeps within the limits, and count it."""
        sent = self._sent.setdefault(key, deque())
        while True:
            now = self.clock()
            while sent and sent[0] + self.window <= now + _SLACK:
                sent.popleft()
            ready = self._closed_until.get(key, now)
            if len(sent) >= self.limit:
                ready = max(ready, sent[0] + self.window)
            if ready <= now + _SLACK:
                sent.append(now)
                return
            await self.sleep(ready - now)

    def observe(self, key: str, headers: Mapping[str, str]) -> None:
        """Note what the server says of its window (`X-RateLimit-*`)."""
        remaining, reset = headers.get("x-ratelimit-remaining"), headers.get("x-ratelimit-reset")
        if remaining is None or reset is None:
            return
        try:
            left, seconds = int(remaining), float(reset)
        except ValueError:
            return
        if left <= 0 and 0 < seconds < 3600:
            self._closed_until[key] = self.clock() + seconds


def paced_hooks(pace: Pace, key: Callable[[httpx.URL], str]) -> dict[str, list[Any]]:
    """httpx event hooks that pace every request (a token request and a retry
    after a 401 too) under `key(url)`, and read the site's rate headers."""

    async def paced(request: httpx.Request) -> None:
        await pace.wait(key(request.url))

    async def observed(response: httpx.Response) -> None:
        pace.observe(key(response.request.url), response.headers)

    return {"request": [paced], "response": [observed]}


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


def usable_url(url: str, variable: str) -> str:
    """`url` when it is an absolute http(s) URL with a host; ValueError naming
    `variable` otherwise."""
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError, ValueError):
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"{variable} must be an http:// or https:// URL with a host, not {url!r}")
    if parsed.query or parsed.fragment:
        raise ValueError(f"{variable} must be a base URL without a query or fragment: {url!r}")
    return url.strip()

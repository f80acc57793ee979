"""A client of ServiceMobility's Export API for InventoryUsage.

`GET /seiapi/v3/export/InventoryUsage?rowver=...&limit=...&src=...` answers
`{"rowver": next cursor, "rows": [...]}`. The documented limits are kept:
at most 15 requests in any second to one endpoint, none while the server says
its window has no requests left (`X-RateLimit-Remaining: 0` until
`X-RateLimit-Reset` seconds pass), and 429 is retried after `Retry-After`.
Errors come in two documented bodies (the Standard Response Object, RFC 7807
shaped, and the older `{"code", "detail": {"message"}}`); both are read.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import httpx
import msgspec

from adapters.pulling import Rejected, Unavailable, failure, vendor_http

EXPORT_PATH: Final = "/seiapi/v3/export/InventoryUsage"
RATE_LIMIT: Final = 15
"""Requests per second per endpoint, by default."""
_SLACK: Final = 1e-9
"""Seconds of rounding error ignored when comparing times."""


class SmError(Exception):
    """Base of what the ServiceMobility client raises."""


class SmUnavailable(SmError, Unavailable):
    """ServiceMobility cannot answer now; try again later."""


class SmRejected(SmError, Rejected):
    """ServiceMobility refused the request: retrying will not help."""

    vendor = "ServiceMobility"


class ExportPage(msgspec.Struct, frozen=True, kw_only=True):
    """An Export API answer exactly as received."""

    body: bytes
    content_type: str | None = None


class Pace:
    """At most `limit` requests in any `window` seconds to one path, and none
    before the server's window resets once it says no request is left.

    The default window is a little over a second: the server counts a request
    when it arrives, and requests do not all take the same time to get there.
    """

    def __init__(
        self,
        limit: int = RATE_LIMIT,
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

    async def wait(self, path: str) -> None:
        """Wait until a request to `path` keeps within the limits, and count it."""
        sent = self._sent.setdefault(path, deque())
        while True:
            now = self.clock()
            while sent and sent[0] + self.window <= now + _SLACK:
                sent.popleft()
            ready = self._closed_until.get(path, now)
            if len(sent) >= self.limit:
                ready = max(ready, sent[0] + self.window)
            if ready <= now + _SLACK:
                sent.append(now)
                return
            await self.sleep(ready - now)

    def observe(self, path: str, headers: Mapping[str, str]) -> None:
        """Note what the server says of its window (`X-RateLimit-*`)."""
        remaining, reset = headers.get("x-ratelimit-remaining"), headers.get("x-ratelimit-reset")
        if remaining is None or reset is None:
            return
        try:
            left, seconds = int(remaining), float(reset)
        except ValueError:
            return
        if left <= 0 and 0 < seconds < 3600:
            self._closed_until[path] = self.clock() + seconds


class SmClient:
    """The Export API of one ServiceMobility site, over one connection pool."""

    def __init__(
        self,
        base_url: str,
        auth: httpx.Auth,
        *,
        pace: Pace | None = None,
        timeout: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.pace = pace or Pace()
        # Every request is paced, also a login or a retry after a 401.
        hooks = {"request": [self._paced], "response": [self._observed]}
        self._http = vendor_http(base_url, auth, timeout, transport, event_hooks=hooks)

    async def _paced(self, request: httpx.Request) -> None:
        await self.pace.wait(request.url.path)

    async def _observed(self, response: httpx.Response) -> None:
        self.pace.observe(response.request.url.path, response.headers)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def inventory_usage(self, *, rowver: str, limit: int, src: str) -> ExportPage:
        """The rows after `rowver` (exclusive), at most `limit`, changed by `src`."""
        params: dict[str, str | int] = {"rowver": rowver, "limit": limit, "src": src}
        try:
            response = await self._http.get(EXPORT_PATH, params=params)
        except httpx.TimeoutException as error:
            raise SmUnavailable(f"GET {EXPORT_PATH} timed out ({type(error).__name__})") from None
        except httpx.TransportError as error:
            raise SmUnavailable(f"GET {EXPORT_PATH} failed: {type(error).__name__}") from None
        if response.status_code >= 300:
            raise sm_failure(response, f"GET {EXPORT_PATH}")
        return ExportPage(body=response.content, content_type=response.headers.get("content-type"))


def sm_failure(response: httpx.Response, what: str) -> Unavailable | Rejected:
    """`failure` for a ServiceMobility answer, with what its error body says."""
    detail = error_detail(response)
    return failure(response, what, detail, unavailable=SmUnavailable, rejected=SmRejected)


def error_detail(response: httpx.Response) -> str:
    """What a ServiceMobility error body says, in either documented shape, short;
    never a request header or parameter."""
    try:
        error: Any = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        return response.reason_phrase or "no detail"
    if isinstance(error, dict):
        detail = error.get("detail")
        if isinstance(detail, dict):  # {"code", "detail": {"message", "params", "dataPath"}}
            detail = detail.get("message")
        for text in (detail, error.get("title")):
            if isinstance(text, str) and text:
                return text[:300]
    return response.reason_phrase or "no detail"
